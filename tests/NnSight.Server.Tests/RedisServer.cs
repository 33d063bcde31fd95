using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NnSight.TestSupport;
using StackExchange.Redis;

namespace NnSight.Server.Tests;

/// <summary>
/// The Redis the replica-set tests use. <c>NNSIGHT_TEST_REDIS=host:port</c> names a running one (<c>bash .ci/run</c>
/// starts one and sets it); without it a developer's run starts <c>redis-server</c> from the PATH once for the whole
/// test process. Under CI (<c>CI</c> set) the variable is required, so a missing Redis fails those tests instead of
/// skipping them. Tests that restart Redis start a private one (<see cref="StartPrivate"/>), with an append-only file
/// fsynced at every write, as the README asks of a production Redis.
/// </summary>
public sealed class RedisServer : IDisposable
{
    /// <summary>The environment variable naming the tests' Redis.</summary>
    public const string Variable = "NNSIGHT_TEST_REDIS";

    private const string HowTo =
        "The replica-set tests need Redis: install redis-server (apt-get install redis-server) and they start their own, " +
        $"or start one and set {Variable}=host:port (redis-server --port 6390 --save '' & export {Variable}=127.0.0.1:6390); bash .ci/run does both.";

    private static readonly Lazy<string> SharedAddress = new(StartShared);
    private readonly TemporaryFolder? _folder;
    private Process? _process;

    private RedisServer(string address, TemporaryFolder? folder, Process? process)
    {
        Address = address;
        _folder = folder;
        _process = process;
    }

    /// <summary><c>host:port</c>.</summary>
    public string Address { get; }

    /// <summary>Why the Redis tests are skipped on this machine, or null when they run (always under CI).</summary>
    public static string? SkipReason =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } || IsCi || BinaryOnPath() ? null : HowTo;

    /// <summary>Why the tests that restart Redis are skipped here, or null (never under CI).</summary>
    public static string? PrivateSkipReason => IsCi || BinaryOnPath() ? null : HowTo;

    /// <summary>The shared Redis's address (<c>host:port</c>).</summary>
    /// <exception cref="InvalidOperationException">No Redis is configured and none can be started.</exception>
    public static string Shared => SharedAddress.Value;

    /// <summary>A fresh key prefix, so that tests sharing one Redis never see each other's jobs.</summary>
    public static string QueueName() => "nnsight-test-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A connection to <paramref name="address"/> for looking into it.</summary>
    public static ConnectionMultiplexer Connect(string address) =>
        ConnectionMultiplexer.Connect(new ConfigurationOptions { EndPoints = { address }, AbortOnConnectFail = false, ConnectTimeout = 2000 });

    /// <summary>A private redis-server on a free loopback port whose append-only file is fsynced at every write.</summary>
    public static RedisServer StartPrivate()
    {
        if (!BinaryOnPath())
        {
            throw new InvalidOperationException(HowTo);
        }
        var folder = new TemporaryFolder();
        var port = LoopbackPorts.Free();
        return new RedisServer($"127.0.0.1:{port}", folder, Launch(port, folder.FullPath, persistent: true));
    }

    /// <summary>Kills a private Redis at once, as a crash would.</summary>
    public void Kill()
    {
        _process!.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Starts a private Redis again on the same port and folder; it reloads its append-only file.</summary>
    public void Restart()
    {
        var killed = _process!;
        _process = Launch(int.Parse(Address.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture), _folder!.FullPath, persistent: true);
        killed.Dispose();
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            Kill();
        }
        _process?.Dispose();
        _folder?.Dispose();
    }

    private static bool IsCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    private static string StartShared()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } address)
        {
            return address;
        }
        if (IsCi || !BinaryOnPath())
        {
            throw new InvalidOperationException($"{Variable} is not set. " + HowTo);
        }
        var folder = new TemporaryFolder();
        var port = LoopbackPorts.Free();
        var process = Launch(port, folder.FullPath, persistent: false);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            folder.Dispose();
        };
        return $"127.0.0.1:{port}";
    }

    /// <summary>Starts redis-server in <paramref name="folder"/> and waits until it answers PING.</summary>
    private static Process Launch(int port, string folder, bool persistent)
    {
        var arguments = $"--port {port} --bind 127.0.0.1 --dir \"{folder}\" --save \"\" --daemonize no --logfile \"\" "
            + (persistent ? "--appendonly yes --appendfsync always" : "--appendonly no");
        var process = Process.Start(new ProcessStartInfo("redis-server", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                using var stream = client.GetStream();
                stream.Write("PING\r\n"u8);
                var buffer = new byte[16];
                if (stream.Read(buffer) > 0 && buffer[0] == (byte)'+')
                {
                    return process;
                }
            }
            catch (SocketException)
            {
                // Not listening yet.
            }
            if (process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with {process.ExitCode} before it answered on port {port}.");
            }
            Thread.Sleep(50);
        }
        process.Kill(entireProcessTree: true);
        throw new TimeoutException($"redis-server did not answer on port {port} within 30 s.");
    }

    private static bool BinaryOnPath() => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Any(folder => folder.Length > 0 && File.Exists(Path.Combine(folder, "redis-server")));
}

/// <summary>A fact that needs Redis: skipped, saying how to get it, on a developer's machine without redis-server; never under CI.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    /// <param name="restartsRedis">The test starts (and restarts) a private redis-server, so it needs the binary.</param>
    public RedisFactAttribute(bool restartsRedis = false)
    {
        Skip = restartsRedis ? RedisServer.PrivateSkipReason : RedisServer.SkipReason;
    }
}

/// <summary>A theory that needs Redis; see <see cref="RedisFactAttribute"/>.</summary>
public sealed class RedisTheoryAttribute : TheoryAttribute
{
    public RedisTheoryAttribute()
    {
        Skip = RedisServer.SkipReason;
    }
}
