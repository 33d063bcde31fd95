using System.Net;
using System.Net.Sockets;

namespace NnSight.TestSupport;

/// <summary>Ports on 127.0.0.1 for the servers the tests start.</summary>
public static class LoopbackPorts
{
    /// <summary>A port nothing listens on now: the system's choice for a listener that is closed again at once.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
