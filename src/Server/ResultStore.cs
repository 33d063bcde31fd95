using System.Text.RegularExpressions;
using NnSight.Intervention;
using NnSight.Serialization;
using static TorchSharp.torch;

namespace NnSight.Server;

/// <summary>
/// Results under RESPONSE_PATH: written atomically (temporary file, then rename), so a reader never sees a partial
/// file and a server killed mid-write leaves only a temporary file. At start the server deletes the files of an
/// earlier run, and only those: results (<c>{job id}.safetensors</c>) and their temporary files, so RESPONSE_PATH may
/// be a folder shared with anything else, even the config file's own.
/// </summary>
internal sealed partial class ResultStore
{
    private readonly string _directory;

    public ResultStore(ServerConfig config)
    {
        _directory = config.ResponsePath;
        Directory.CreateDirectory(_directory);
        foreach (var orphan in Directory.EnumerateFiles(_directory).Where(file => OwnFile().IsMatch(Path.GetFileName(file))))
        {
            File.Delete(orphan);
        }
    }

    /// <summary>Writes each trace's output and saved values of job <paramref name="id"/>; returns the file's path.</summary>
    public string Write(string id, IReadOnlyList<GraphResult> traces)
    {
        var path = Path.Combine(_directory, id + ".safetensors");
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
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["job"] = id });
        return path;
    }

    public void Delete(string path) => File.Delete(path);

    /// <summary>
    /// A result (the job id is a Guid's 32 hex digits) or SafetensorsWriter's temporary file for one
    /// (<c>.{file name}.{32 hex digits}.tmp</c>).
    /// </summary>
    [GeneratedRegex(@"^[0-9a-f]{32}\.safetensors$|^\.[0-9a-f]{32}\.safetensors\.[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex OwnFile();
}
