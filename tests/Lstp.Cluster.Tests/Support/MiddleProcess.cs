using Lstp.Testing;
using Lstp.Transport;

namespace Lstp.Cluster.Tests.Support;

/// <summary>A real `lstp middle --cluster ...` process on loopback, as an operator (or docker compose) runs it.</summary>
public sealed class MiddleProcess : IAsyncDisposable
{
    private MiddleProcess(LstpProcess process, string name, HostPort address, HostPort admin, HostPort endpoint)
    {
        Endpoint = endpoint;
        Process = process;
        Name = name;
        Address = address;
        Admin = admin;
    }

    public LstpProcess Process { get; }
    public string Name { get; }
    public HostPort Address { get; }
    public HostPort Admin { get; }

    /// <summary>The node's cluster endpoint (--advertise).</summary>
    public HostPort Endpoint { get; }

    /// <summary>Starts a node and returns once it listens (it has joined the cluster by then).</summary>
    public static Task<MiddleProcess> StartAsync(string name, MiddleProcess? seed, params string[] extra) =>
        StartAsync(name, Endpoints.Free(), seed is null ? null : [seed.Endpoint], extra);

    /// <summary>Starts a node with cluster endpoint <paramref name="endpoint"/> joining through <paramref name="seeds"/> (none: itself).</summary>
    public static async Task<MiddleProcess> StartAsync(string name, HostPort endpoint, IReadOnlyList<HostPort>? seeds, params string[] extra)
    {
        var address = new HostPort("127.0.0.1", Net.FreePort());
        var admin = new HostPort("127.0.0.1", Net.FreePort());
        string[] args =
        [
            "middle", "--listen", address.ToString(), "--name", name, "--admin", admin.ToString(),
            "--cluster", string.Join(',', seeds ?? [endpoint]), "--advertise", endpoint.ToString(),
            // Every end of a test comes from 127.0.0.1: lift the per-source limits.
            "--max-connections-per-second", "1000000", "--max-waiting-per-source", "1000000", "--max-links-per-source", "1000000",
            .. extra,
        ];
        var process = LstpProcess.Start(args);
        try
        {
            // Listening means joined: the node joins the cluster before it binds its listener.
            await Eventually.TrueAsync(() => process.HasExited || Accepts(address), $"{name} listens on {address}", TimeSpan.FromSeconds(60));
            if (process.HasExited) throw new InvalidOperationException($"{name} exited: {string.Join('\n', process.Lines)}");
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
        return new MiddleProcess(process, name, address, admin, endpoint);
    }

    private static bool Accepts(HostPort address)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect(address.Host, address.Port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync() => await Process.DisposeAsync();
}
