using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>nnsight's README example 9 (remote) on the tiny Llama through the typed tree: the server's values equal HuggingFace's.</summary>
public sealed class RemoteLlamaTests(ServerProcess server) : IClassFixture<ServerProcess>, IDisposable
{
    private static readonly ReferenceIndex Reference = ReferenceIndex.Llama;
    private static readonly long[] Prompt = Reference.Prompts["p10"].Ids;
    private readonly TinyLlama _model = TinyLlama.FromPretrained(RepositoryPaths.TinyLlama);

    public void Dispose() => _model.Dispose();

    [Fact]
    public void Example9_remote_generation_saves_what_huggingface_computes()
    {
        var generation = Reference.Scenario("L04_generate");
        var remote = _model.Generate(4, null, server.Settings());
        TensorProxy hidden, logits;
        using (remote)
        using (remote.Invoke(Prompt))
        {
            hidden = _model.Model.Layers[^1].Output[0].Save();
            logits = _model.LmHead.Output[.., ^1].Save();
        }

        generation.Expect("hidden_step0", hidden.Value);
        generation.ExpectPart("scores", scores => scores.narrow(0, 0, 1), logits.Value);
        generation.Expect("sequences", remote.Output);
    }
}

/// <summary>The bundled tiny Llama, typed.</summary>
[LanguageModel("models/tiny-llama/config.json")]
public partial class TinyLlama;
