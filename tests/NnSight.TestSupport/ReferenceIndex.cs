using NnSight.Serialization;
using System.Text.Json;
using static TorchSharp.torch;

namespace NnSight.TestSupport;

/// <summary>
/// A reference folder's <c>index.json</c>: the prompts with their token ids, and per scenario the stored tensors with
/// their own tolerances.
/// </summary>
public sealed class ReferenceIndex
{
    private readonly string _folder;
    private readonly JsonElement _root;

    private ReferenceIndex(string folder, JsonElement root)
    {
        _folder = folder;
        _root = root;
    }

    /// <summary>The GPT-2 references.</summary>
    public static ReferenceIndex Gpt2 { get; } = Load(RepositoryPaths.Gpt2Reference);

    /// <summary>The Llama references (tiny-llama and tiny-llama-bias).</summary>
    public static ReferenceIndex Llama { get; } = Load(RepositoryPaths.LlamaReference);

    /// <summary>Reads <c>index.json</c> in <paramref name="folder"/>.</summary>
    public static ReferenceIndex Load(string folder)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "index.json")));
        return new ReferenceIndex(folder, document.RootElement.Clone());
    }

    /// <summary>The prompt texts (empty for prompts given as raw ids) with their token ids, by prompt name.</summary>
    public IReadOnlyDictionary<string, (string Text, long[] Ids)> Prompts =>
        _root.GetProperty("prompts").EnumerateObject().ToDictionary(
            prompt => prompt.Name,
            prompt => (prompt.Value.TryGetProperty("text", out var text) ? text.GetString()! : "",
                prompt.Value.GetProperty("ids").EnumerateArray().Select(id => id.GetInt64()).ToArray()));

    /// <summary>The named single tokens and their ids.</summary>
    public IReadOnlyDictionary<string, long> Tokens =>
        _root.GetProperty("tokens").EnumerateObject().ToDictionary(token => token.Name, token => token.Value.GetInt64());

    /// <summary>The scenario named <paramref name="name"/>.</summary>
    public ReferenceScenario Scenario(string name)
    {
        var scenario = _root.GetProperty("scenarios").EnumerateArray().Single(item => item.GetProperty("name").GetString() == name);
        return new ReferenceScenario(Path.Combine(_folder, scenario.GetProperty("file").GetString()!), scenario);
    }
}

/// <summary>One scenario: its stored tensors and their tolerances.</summary>
public sealed class ReferenceScenario
{
    private readonly string _file;
    private readonly JsonElement _scenario;

    internal ReferenceScenario(string file, JsonElement scenario)
    {
        _file = file;
        _scenario = scenario;
    }

    /// <summary>The names of the scenario's tensors, in index order.</summary>
    public IReadOnlyList<string> TensorNames => [.. _scenario.GetProperty("tensors").EnumerateObject().Select(tensor => tensor.Name)];

    /// <summary>Reads the stored tensor <paramref name="name"/>; the caller owns it.</summary>
    public Tensor Load(string name)
    {
        using var file = SafetensorsFile.Open(_file);
        return file.Read(name);
    }

    /// <summary>
    /// Asserts <paramref name="actual"/> equals the stored tensor <paramref name="name"/>: exactly for ids, else within
    /// that tensor's own rtol/atol; only where <paramref name="where"/> is true when given.
    /// </summary>
    public void Expect(string name, Tensor actual, Tensor? where = null) => ExpectPart(name, expected => expected.alias(), actual, where);

    /// <summary>
    /// Asserts <paramref name="actual"/> equals <paramref name="part"/> of the stored tensor <paramref name="name"/>
    /// (a row, a position), with that tensor's own tolerance.
    /// </summary>
    public void ExpectPart(string name, Func<Tensor, Tensor> part, Tensor actual, Tensor? where = null)
    {
        ArgumentNullException.ThrowIfNull(part);
        var spec = _scenario.GetProperty("tensors").GetProperty(name);
        using var stored = Load(name);
        using var expected = part(stored);
        var label = $"{_scenario.GetProperty("name").GetString()}/{name}";
        if (spec.TryGetProperty("rtol", out var rtol))
        {
            TensorAssert.Close(expected, actual, rtol.GetDouble(), spec.GetProperty("atol").GetDouble(), label, where);
        }
        else
        {
            TensorAssert.Equal(expected, actual, label);
        }
    }
}
