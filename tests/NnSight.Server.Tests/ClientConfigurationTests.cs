using NnSight.Models;
using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary><c>remote: true</c> reads the server and key from the environment; <c>server:</c> names the server.</summary>
[Collection(nameof(EnvironmentCollection))]
public sealed class ClientConfigurationTests(TinyGpt2Fixture fixture, ServerProcess server)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<ServerProcess>
{
    private readonly LanguageModel _model = fixture.Model;

    [Fact]
    public void Remote_true_and_server_take_the_environment_and_match_a_local_run()
    {
        Environment.SetEnvironmentVariable(RemoteSettings.ServerVariable, server.Address.ToString());
        Environment.SetEnvironmentVariable(RemoteSettings.ApiKeyVariable, ServerProcess.ApiKey);
        try
        {
            var local = Last(() => _model.Trace());
            var remote = Last(() => _model.Trace(remote: true));
            var named = Last(() => _model.Trace(server: server.Address.ToString()));

            TensorAssert.Close(local, remote, 0, 0, "remote: true");
            TensorAssert.Close(local, named, 0, 0, "server:");
        }
        finally
        {
            Environment.SetEnvironmentVariable(RemoteSettings.ServerVariable, null);
            Environment.SetEnvironmentVariable(RemoteSettings.ApiKeyVariable, null);
        }
    }

    [Fact]
    public void A_refused_request_surfaces_the_servers_message()
    {
        var tracer = _model.Trace(server.Settings(apiKey: "not-a-key"));
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {
            _model.Envoy("lm_head").Output.Save();
        }

        var error = Assert.Throws<RemoteException>(tracer.Dispose);

        Assert.Equal(401, error.StatusCode);
        Assert.Contains("A valid API key is required", error.Message, StringComparison.Ordinal);
    }

    private TorchSharp.torch.Tensor Last(Func<Tracer> start)
    {
        TensorProxy saved;
        using (var tracer = start())
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {
            saved = _model.Envoy("lm_head").Output[.., ^1].Save();
        }
        return saved.Value;
    }
}

/// <summary>Tests that change process environment variables run alone.</summary>
[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;
