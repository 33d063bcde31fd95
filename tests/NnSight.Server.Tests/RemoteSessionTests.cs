using NnSight.Models;
using NnSight.Serialization;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Server.Tests;

/// <summary>
/// Sessions and the generation-step, cache, stop, skip and edit features on the server: each gives the local values bit
/// for bit (the test server runs with this process's thread count); a session is one job whose kept values stay there.
/// </summary>
public sealed class RemoteSessionTests(TinyGpt2Fixture fixture, ServerProcess server)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<ServerProcess>, IDisposable
{
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;
    private static string Clean => ReferenceIndex.Gpt2.Prompts["ioi_clean"].Text;
    private static string Corrupt => ReferenceIndex.Gpt2.Prompts["ioi_corrupt"].Text;
    private readonly LanguageModel _model = fixture.Model;
    private readonly ServerClient _client = new(server);

    public void Dispose() => _client.Dispose();

    private Envoy Block(int index) => _model.Envoy("transformer.h")[index];

    private static void Same(IEnumerable<Tensor> local, IEnumerable<Tensor> remote)
    {
        var pairs = local.Zip(remote).ToList();
        Assert.NotEmpty(pairs);
        Assert.Equal(local.Count(), remote.Count());
        foreach (var (expected, actual) in pairs)
        {
            TensorAssert.Close(expected, actual, 0, 0, "remote vs local");
        }
    }

    private (Tensor Patched, Tracer First, Tracer Second, Session Session) SessionPatch(bool remote)
    {
        TensorProxy clean, patched;
        Tracer first, second;
        var session = remote ? _model.Session(server.Settings()) : _model.Session();
        using (session)
        {
            using (first = _model.Trace())
            using (first.Invoke(Clean))
            {
                clean = Block(2).Output[0];
            }
            using (second = _model.Trace())
            using (second.Invoke(Corrupt))
            {
                Block(2).Output[0][.., 13] = clean[.., 13];
                patched = _model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }
        return (patched.Value, first, second, session);
    }

    [Fact]
    public void A_remote_session_is_one_job_equal_to_the_local_session_and_its_kept_values_never_leave_the_server()
    {
        var local = SessionPatch(remote: false);
        var remote = SessionPatch(remote: true);

        Same([local.Patched, local.First.Output, local.Second.Output], [remote.Patched, remote.First.Output, remote.Second.Output]);
        var job = remote.Session.Job!;
        Assert.Same(job, remote.First.Job);
        Assert.Same(job, remote.Second.Job);
        using var folder = new TemporaryFolder();
        var file = Path.Combine(folder.FullPath, "result.safetensors");
        using (var response = _client.Get($"v1/jobs/{job.Id}/result"))
        using (var stream = File.Create(file))
        {
            response.EnsureSuccessStatusCode();
            response.Content.ReadAsStream().CopyTo(stream);
        }
        using var result = SafetensorsFile.Open(file);
        var savedId = remote.Second.Graph.Nodes.Single(node => node.Saved).Id;
        Assert.Equal(["trace.0.output", "trace.1.node." + savedId, "trace.1.output"], result.Tensors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Steering_at_every_step_and_saving_per_step_remotely_equals_local()
    {
        List<Tensor> Run(bool remote)
        {
            TensorProxy perStep;
            var generator = remote ? _model.Generate(3, null, server.Settings()) : _model.Generate(3);
            using (generator)
            using (var invoker = generator.Invoke(Eiffel))
            using (invoker.All())
            {
                Block(1).Output[0] = Block(1).Output[0] * 1.5;
                perStep = Block(3).Output[0].Save();
            }
            return [.. perStep.Values, generator.Output];
        }

        Same(Run(remote: false), Run(remote: true));
    }

    [Fact]
    public void A_cache_remotely_equals_local()
    {
        List<Tensor> Run(bool remote)
        {
            ActivationCache cache;
            var tracer = remote ? _model.Trace(server.Settings()) : _model.Trace();
            using (tracer)
            using (tracer.Invoke(Eiffel))
            {
                cache = tracer.Cache(_model.Envoy("transformer.h"));
            }
            return [.. cache.Paths.Order(StringComparer.Ordinal).SelectMany(path => Tensors(cache[path].Output))];
        }

        Same(Run(remote: false), Run(remote: true));
    }

    private static IEnumerable<Tensor> Tensors(CachedValue value) =>
        value.IsTuple ? Enumerable.Range(0, value.Count).SelectMany(index => Tensors(value[index])) : [value.Tensor];

    [Fact]
    public void Stop_and_skip_remotely_equal_local()
    {
        List<Tensor> Run(bool remote)
        {
            TensorProxy first, skipped;
            var stopped = remote ? _model.Trace(server.Settings()) : _model.Trace();
            using (stopped)
            using (stopped.Invoke(Eiffel))
            {
                first = Block(0).Output[0].Save();
                stopped.Stop();
            }
            Assert.Throws<ValueNotReadyException>(() => stopped.Output);
            var skipping = remote ? _model.Trace(server.Settings()) : _model.Trace();
            using (skipping)
            using (skipping.Invoke(Eiffel))
            {
                Block(1).Skip(Block(0).Output);
                skipped = Block(1).Output[0].Save();
            }
            return [first.Value, skipped.Value, skipping.Output];
        }

        Same(Run(remote: false), Run(remote: true));
    }

    [Fact]
    public void An_edited_view_remotely_equals_local()
    {
        using var ablated = _model.Edit(() => Block(1).Child("attn").Output[0] = Block(1).Child("attn").Output[0] * 0);
        Tensor Run(bool remote)
        {
            var tracer = remote ? ablated.Trace(server.Settings()) : ablated.Trace();
            using (tracer)
            using (tracer.Invoke(Eiffel))
            {
            }
            return tracer.Output;
        }

        Same([Run(remote: false)], [Run(remote: true)]);
    }
}
