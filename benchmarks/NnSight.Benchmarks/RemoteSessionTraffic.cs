using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NnSight.Models;
using NnSight.Serialization;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// What a remote session saves over separate remote traces, on a GPT-2-small-shaped model (random weights) served by
/// the real server: example 16's patch (block 2's hidden states of the clean IOI prompt replace the corrupt prompt's)
/// as two remote traces, the first saving the hidden states for the second to send back, against one remote session.
/// Counts HTTP requests and bytes each way through a loopback relay, and times both, alternately, in the same run.
/// </summary>
internal static class RemoteSessionTraffic
{
    private const string ModelId = "gpt2-small";
    private const string ApiKey = "benchmark-key";
    private const int Runs = 7;

    // The IOI prompts' GPT-2 token ids (14 each), so no tokenizer is needed.
    private static readonly long[] Clean = [2215, 1757, 290, 5335, 1816, 284, 262, 12437, 11, 1757, 2921, 262, 6131, 284];
    private static readonly long[] Corrupt = [2215, 1757, 290, 5335, 1816, 284, 262, 12437, 11, 5335, 2921, 262, 6131, 284];

    public static void Run()
    {
        var root = BenchmarkPaths.RepositoryRoot();
        var folder = Directory.CreateTempSubdirectory("nnsight-session-traffic-").FullName;
        try
        {
            WriteCheckpoint(root, folder);
            var serverPort = FreePort();
            File.WriteAllText(Path.Combine(folder, "config.yaml"), $"""
                PORT: {serverPort}
                HOST: 127.0.0.1
                RESPONSE_PATH: responses
                TORCH_THREADS: {get_num_threads()}
                MODELS:
                  {ModelId}: {Path.Combine(folder, "model")}
                API_KEYS:
                  - {ApiKey}
                """);
            using var server = StartServer(root, Path.Combine(folder, "config.yaml"));
            using var relay = new CountingRelay(serverPort);
            using var model = LanguageModel.FromPretrained(Path.Combine(folder, "model"));
            model.RemoteId = ModelId;
            var settings = new RemoteSettings(new Uri($"http://127.0.0.1:{relay.Port}/"), ApiKey) { Progress = null };

            var separate = new List<double>();
            var session = new List<double>();
            (long Requests, long Up, long Down) separateTraffic = default, sessionTraffic = default;
            for (var run = 0; run < Runs; run++)
            {
                separateTraffic = Measure(relay, separate, () => TwoTraces(model, settings));
                sessionTraffic = Measure(relay, session, () => OneSession(model, settings));
            }
            using (var fromTraces = TwoTraces(model, settings))
            using (var fromSession = OneSession(model, settings))
            {
                if (!fromTraces.allclose(fromSession, 1e-5, 1e-6))
                {
                    throw new InvalidOperationException("The session's patched logits differ from the two traces'.");
                }
            }
            Console.WriteLine("Example 16's patch on a GPT-2-small-shaped model, through a loopback relay to the server");
            Console.WriteLine($"{"",-22} {"HTTP requests",14} {"bytes up",10} {"bytes down",11} {"median ms",10}");
            Console.WriteLine($"{"two remote traces",-22} {separateTraffic.Requests,14} {separateTraffic.Up,10} {separateTraffic.Down,11} {Median(separate),10:F1}");
            Console.WriteLine($"{"one remote session",-22} {sessionTraffic.Requests,14} {sessionTraffic.Up,10} {sessionTraffic.Down,11} {Median(session),10:F1}");
            Console.WriteLine($"session / traces: time {Median(session) / Median(separate):F2}, bytes {(double)(sessionTraffic.Up + sessionTraffic.Down) / (separateTraffic.Up + separateTraffic.Down):F3} ({Runs} runs each, alternating)");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The clean run saves block 2's hidden states, which the second trace sends back as a constant.</summary>
    private static Tensor TwoTraces(LanguageModel model, RemoteSettings settings)
    {
        TensorProxy clean, patched;
        using (var tracer = model.Trace(settings))
        using (tracer.Invoke(Clean))
        {
            clean = model.Envoy("transformer.h.2").Output[0].Save();
        }
        using var cleanValue = clean.Value;
        using (var tracer = model.Trace(settings))
        using (tracer.Invoke(Corrupt))
        {
            model.Envoy("transformer.h.2").Output[0] = cleanValue;
            patched = model.Envoy("lm_head").Output[.., ^1].Save();
        }
        return patched.Value;
    }

    /// <summary>The same patch as one session: the hidden states stay on the server.</summary>
    private static Tensor OneSession(LanguageModel model, RemoteSettings settings)
    {
        TensorProxy clean, patched;
        using (model.Session(settings))
        {
            using (var tracer = model.Trace())
            using (tracer.Invoke(Clean))
            {
                clean = model.Envoy("transformer.h.2").Output[0];
            }
            using (var tracer = model.Trace())
            using (tracer.Invoke(Corrupt))
            {
                model.Envoy("transformer.h.2").Output[0] = clean;
                patched = model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }
        return patched.Value;
    }

    private static (long Requests, long Up, long Down) Measure(CountingRelay relay, List<double> times, Func<Tensor> run)
    {
        var before = relay.Snapshot();
        var clock = Stopwatch.StartNew();
        run().Dispose();
        times.Add(clock.Elapsed.TotalMilliseconds);
        var after = relay.Snapshot();
        return (after.Requests - before.Requests, after.Up - before.Up, after.Down - before.Down);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>A random GPT-2 small in the hub's layout: Conv1D weights [in, out], a tied head, the published config.</summary>
    private static void WriteCheckpoint(string root, string folder)
    {
        var model = Directory.CreateDirectory(Path.Combine(folder, "model")).FullName;
        File.Copy(Path.Combine(root, "models", "gpt2", "config.json"), Path.Combine(model, "config.json"));
        using var input = new Gpt2SmallInput();
        using var scope = NewDisposeScope();
        var tensors = input.Model.Module.state_dict()
            .Where(entry => entry.Key != "lm_head.weight")
            .Select(entry => KeyValuePair.Create(entry.Key,
                System.Text.RegularExpressions.Regex.IsMatch(entry.Key, @"\.(c_attn|c_proj|c_fc)\.weight$") ? entry.Value.t() : entry.Value));
        SafetensorsWriter.Write(Path.Combine(model, "model.safetensors"), tensors);
    }

    /// <summary>Starts the server (built in Release by <c>dotnet run</c>) and waits until it listens.</summary>
    private static RunningServer StartServer(string root, string config)
    {
        var start = new ProcessStartInfo("dotnet", $"run --project \"{Path.Combine(root, "src", "Server")}\" -c Release -- --config \"{config}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var server = new RunningServer(Process.Start(start)!);
        var listening = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null || line.Data.StartsWith("NnSight server listening on ", StringComparison.Ordinal))
            {
                listening.TrySetResult(line.Data is not null);
            }
        };
        server.Process.ErrorDataReceived += (_, line) => Console.Error.WriteLine(line.Data);
        server.Process.BeginOutputReadLine();
        server.Process.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromMinutes(5)) || !listening.Task.Result)
        {
            server.Dispose();
            throw new InvalidOperationException("The server did not start.");
        }
        return server;
    }

    private sealed record RunningServer(Process Process) : IDisposable
    {
        public void Dispose()
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
            Process.Dispose();
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// A loopback TCP relay to the server that counts the bytes each way and the HTTP requests (one <c>Host:</c> header
/// each) that pass through it.
/// </summary>
internal sealed class CountingRelay : IDisposable
{
    private static readonly byte[] HostHeader = Encoding.ASCII.GetBytes("\r\nHost: ");
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private long _requests, _up, _down;

    public CountingRelay(int target)
    {
        _target = target;
        _listener.Start();
        _ = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public (long Requests, long Up, long Down) Snapshot() =>
        (Interlocked.Read(ref _requests), Interlocked.Read(ref _up), Interlocked.Read(ref _down));

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception error) when (error is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => RelayAsync(client));
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            await server.ConnectAsync(IPAddress.Loopback, _target);
            var up = Pump(client.GetStream(), server.GetStream(), count => Interlocked.Add(ref _up, count), countRequests: true);
            var down = Pump(server.GetStream(), client.GetStream(), count => Interlocked.Add(ref _down, count), countRequests: false);
            await Task.WhenAny(up, down);
        }
    }

    private async Task Pump(NetworkStream from, NetworkStream to, Action<long> counted, bool countRequests)
    {
        var buffer = new byte[81920];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                counted(read);
                if (countRequests)
                {
                    // Headers are small and arrive at the start of a read; a header split across reads would be missed.
                    var span = buffer.AsSpan(0, read);
                    for (var at = span.IndexOf(HostHeader); at >= 0; at = span.IndexOf(HostHeader))
                    {
                        Interlocked.Increment(ref _requests);
                        span = span[(at + HostHeader.Length)..];
                    }
                }
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception error) when (error is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // A side closed the connection.
        }
    }
}
