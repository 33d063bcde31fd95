using NnSight.Models;
using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>
/// <c>remote: true</c> reads the server and key from the environment, then the config file (found through HOME);
/// <c>server:</c> names the server.
/// </summary>
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

    [Theory]
    [InlineData("{\"server\": ", "is not valid JSON")]
    [InlineData("[\"http://127.0.0.1:5000\"]", "must hold a JSON object {\"server\": \"...\", \"apiKey\": \"...\"}, not Array.")]
    [InlineData("{\"apiKey\": 7}", ": \"apiKey\" must be a string, not Number.")]
    public void A_malformed_config_file_is_read_only_for_what_the_call_and_environment_leave_open(string contents, string problem)
    {
        using var home = new HomeWithConfigFile(contents);
        try
        {
            Assert.Equal(home.ConfigFile, RemoteSettings.ConfigFile);
            Environment.SetEnvironmentVariable(RemoteSettings.ApiKeyVariable, ServerProcess.ApiKey);
            var named = Last(() => _model.Trace(server: server.Address.ToString()));

            Environment.SetEnvironmentVariable(RemoteSettings.ApiKeyVariable, null);
            // A tracer wrongly started is disposed at once, so it cannot leave the model busy for the next test.
            var withoutKey = Assert.Throws<RemoteException>(() => _model.Trace(server: server.Address.ToString()).Dispose());
            var withoutServer = Assert.Throws<RemoteException>(() => _model.Trace(remote: true).Dispose());

            TensorAssert.Close(Last(() => _model.Trace()), named, 0, 0, "server: with the key in the environment");
            foreach (var error in new[] { withoutKey, withoutServer })
            {
                Assert.StartsWith(RemoteSettings.ConfigFile, error.Message, StringComparison.Ordinal);
                Assert.Contains(problem, error.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(RemoteSettings.ApiKeyVariable, null);
        }
    }

    [Fact]
    public void The_config_file_gives_the_key_a_call_that_names_only_the_server_leaves_open()
    {
        using var home = new HomeWithConfigFile($$"""{"server": "http://127.0.0.1:9", "apiKey": "{{ServerProcess.ApiKey}}"}""");

        TensorAssert.Close(Last(() => _model.Trace()), Last(() => _model.Trace(server: server.Address.ToString())), 0, 0, "key from the config file");
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

/// <summary>HOME set to a fresh folder holding <c>.nnsight/config.json</c>, so the real one is never read; restored on dispose.</summary>
internal sealed class HomeWithConfigFile : IDisposable
{
    private readonly TemporaryFolder _home = new();
    private readonly string? _realHome = Environment.GetEnvironmentVariable("HOME");

    public HomeWithConfigFile(string contents)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(ConfigFile)!);
        File.WriteAllText(ConfigFile, contents);
        Environment.SetEnvironmentVariable("HOME", _home.FullPath);
    }

    public string ConfigFile => _home.File(Path.Combine(".nnsight", "config.json"));

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("HOME", _realHome);
        _home.Dispose();
    }
}

/// <summary>Tests that change process environment variables run alone.</summary>
[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;
