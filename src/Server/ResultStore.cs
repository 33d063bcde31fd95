using System.Text.RegularExpressions;
using NnSight.Intervention;
using NnSight.Serialization;
using static TorchSharp.torch;

namespace NnSight.Server;

/// <summary>
/// Results under RESPONSE_PATH: written atomically (temporary file, then rename), so a reader never sees a partial
/// file and a server killed mid-write leaves only a temporary file. At start the server deletes such temporary files
/// and results no journaled job owns (see <see cref="JobStore.Recover"/>), and nothing else, so RESPONSE_PATH may be a
/// folder shared with anything else, even the config file's own.
/// </summary>
internal sealed partial class ResultStore
{
    private readonly string _directory;

    public ResultStore(ServerConfig config)
    {
        _directory = config.ResponsePath;
        Directory.CreateDirectory(_directory);
        foreach (var orphan in Directory.EnumerateFiles(_directory).Where(file => TemporaryFile().IsMatch(Path.GetFileName(file))))
        {
            File.Delete(orphan);
        }
    }

    /// <summary>The path of job <paramref name="id"/>'s result.</summary>
    public string PathOf(string id) => Path.Combine(_directory, id + ".safetensors");

    /// <summary>Writes each trace's output and saved values of job <paramref name="id"/>; returns the file's path.</summary>
    public string Write(string id, IReadOnlyList<GraphResult> traces)
    {
        var path = PathOf(id);
        SafetensorsWriter.Write(path, Tensors(traces), Metadata(id));
        return path;
    }

    /// <summary>The bytes of the result file <see cref="Write"/> would write, for results kept elsewhere than on disk.</summary>
    public static byte[] Serialize(string id, IReadOnlyList<GraphResult> traces)
    {
        using var buffer = new MemoryStream();
        SafetensorsWriter.WriteTo(buffer, Tensors(traces), Metadata(id));
        return buffer.ToArray();
    }

    public void Delete(string path) => File.Delete(path);

    /// <summary>Deletes the results in RESPONSE_PATH whose job is not in <paramref name="owned"/>.</summary>
    public void DeleteOrphans(IReadOnlySet<string> owned)
    {
        foreach (var file in Directory.EnumerateFiles(_directory, "*.safetensors"))
        {
            if (ResultFile().Match(Path.GetFileName(file)) is { Success: true } match && !owned.Contains(match.Groups[1].Value))
            {
                File.Delete(file);
            }
        }
    }

    private static List<KeyValuePair<string, Tensor>> Tensors(IReadOnlyList<GraphResult> traces)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (result, trace) in traces.Select((result, trace) => (result, trace)))
        {
            if (result.Output is { } output)
            {
                tensors.Add(new(RemoteProtocol.OutputTensor(trace), output));
            }
            tensors.AddRange(result.Saved.OrderBy(saved => saved.Key)
                .Select(saved => new KeyValuePair<string, Tensor>(RemoteProtocol.SavedTensor(trace, saved.Key), saved.Value)));
        }
        return tensors;
    }

    private static Dictionary<string, string> Metadata(string id) => new() { ["format"] = "pt", ["job"] = id };

    /// <summary>A result: the job id is a Guid's 32 hex digits.</summary>
    [GeneratedRegex(@"^([0-9a-f]{32})\.safetensors$", RegexOptions.CultureInvariant)]
    private static partial Regex ResultFile();

    /// <summary>SafetensorsWriter's temporary file for a result (<c>.{file name}.{32 hex digits}.tmp</c>).</summary>
    [GeneratedRegex(@"^\.[0-9a-f]{32}\.safetensors\.[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryFile();
}
