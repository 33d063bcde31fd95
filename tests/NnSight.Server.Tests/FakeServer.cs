using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NnSight.Server.Tests;

/// <summary>What <see cref="FakeServer"/> does with one request.</summary>
/// <param name="Head">The status line and headers to send, or null to send nothing.</param>
/// <param name="Body">The body to send after the head.</param>
/// <param name="Delay">How long to wait before sending anything.</param>
/// <param name="Finish">Whether the answer is complete (the connection is closed); false leaves the client waiting.</param>
internal sealed record FakeAnswer(string? Head, byte[] Body, TimeSpan Delay, bool Finish)
{
    /// <summary>Closes the connection without answering, as a server killed after reading the request.</summary>
    public static FakeAnswer Dropped { get; } = new(null, [], TimeSpan.Zero, Finish: true);

    /// <summary>Never answers; the connection stays open until the server is disposed.</summary>
    public static FakeAnswer Never { get; } = new(null, [], TimeSpan.Zero, Finish: false);

    /// <summary>A complete answer.</summary>
    public static FakeAnswer Complete(int status, string contentType, byte[] body, TimeSpan delay = default) =>
        new($"HTTP/1.1 {status} Fake\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n", body, delay, Finish: true);

    /// <summary>A complete JSON answer.</summary>
    public static FakeAnswer Json(int status, string json) => Complete(status, "application/json", Encoding.UTF8.GetBytes(json));

    /// <summary>Headers promising <paramref name="length"/> bytes, then nothing.</summary>
    public static FakeAnswer Stalled(int status, long length) =>
        new($"HTTP/1.1 {status} Fake\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n", [], TimeSpan.Zero, Finish: false);
}

/// <summary>
/// A scripted HTTP/1.1 server on 127.0.0.1 for what a real server never does (hang, stall mid-body) and for checking
/// the paths a client asks for: each request gets the script's answer for its method and path. It answers on threads
/// of its own, so a busy thread pool cannot delay it.
/// </summary>
internal sealed class FakeServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, string, FakeAnswer> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentQueue<string?> _idempotencyKeys = new();
    private readonly ConcurrentBag<TcpClient> _connections = [];
    private readonly Thread _accepting;

    public FakeServer(Func<string, string, FakeAnswer> script)
    {
        _script = script;
        _listener.Start();
        _accepting = new Thread(Accept) { IsBackground = true };
        _accepting.Start();
    }

    /// <summary>The server's root address.</summary>
    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    /// <summary>The requests so far, as <c>METHOD /path</c>.</summary>
    public IReadOnlyCollection<string> Requests => _requests;

    /// <summary>The <c>Idempotency-Key</c> header of each request so far (null where absent), in the order of <see cref="Requests"/>.</summary>
    public IReadOnlyCollection<string?> IdempotencyKeys => _idempotencyKeys;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _accepting.Join();
        foreach (var connection in _connections)
        {
            connection.Dispose();
        }
        _stop.Dispose();
    }

    private void Accept()
    {
        while (true)
        {
            TcpClient connection;
            try
            {
                connection = _listener.AcceptTcpClient();
            }
            catch (Exception error) when (error is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _connections.Add(connection);
            new Thread(() => Answer(connection)) { IsBackground = true }.Start();
        }
    }

    private void Answer(TcpClient connection)
    {
        try
        {
            var stream = connection.GetStream();
            var reader = new StreamReader(stream, Encoding.ASCII);
            var request = (reader.ReadLine() ?? "").Split(' ');
            var length = 0;
            string? idempotencyKey = null;
            while (reader.ReadLine() is { Length: > 0 } header)
            {
                var (name, value) = (header[..header.IndexOf(':')], header[(header.IndexOf(':') + 1)..].Trim());
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    length = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                }
                else if (name.Equals(RemoteProtocol.IdempotencyHeader, StringComparison.OrdinalIgnoreCase))
                {
                    idempotencyKey = value;
                }
            }
            reader.ReadBlock(new char[length]);
            // Both before the request is counted, so a test that saw the request sees its header.
            _idempotencyKeys.Enqueue(idempotencyKey);
            _requests.Enqueue($"{request[0]} {request[1]}");
            var answer = _script(request[0], request[1]);
            if (_stop.Token.WaitHandle.WaitOne(answer.Delay))
            {
                return;
            }
            if (answer.Head is { } head)
            {
                stream.Write(Encoding.ASCII.GetBytes(head));
                stream.Write(answer.Body);
            }
            if (answer.Finish)
            {
                connection.Dispose();
            }
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException)
        {
            // The server is shutting down or the client went away.
        }
    }
}
