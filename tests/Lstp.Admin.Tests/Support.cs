using System.Net.Sockets;
using Lstp.Testing;

namespace Lstp.Admin.Tests;

/// <summary>Echo traffic through a forward, as the demo drives it: 1 MiB round trips on fresh connections, each checked.</summary>
public static class EchoTraffic
{
    /// <summary>Round trips until cancelled; returns the bytes echoed intact.</summary>
    public static async Task<long> RunAsync(int port, CancellationToken cancellationToken)
    {
        const int size = 1024 * 1024;
        long echoed = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await RoundTripAsync(port, size);
            echoed += size;
        }
        return echoed;
    }

    /// <summary>One round trip of <paramref name="size"/> bytes on a fresh connection, closed cleanly.</summary>
    public static async Task RoundTripAsync(int port, int size = 256 * 1024)
    {
        var payload = new byte[size];
        Random.Shared.NextBytes(payload);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = await Net.ConnectAsync(port, timeout.Token);
        await socket.SendAsync(payload, SocketFlags.None, timeout.Token);
        socket.Shutdown(SocketShutdown.Send);
        var back = await Net.ReadToEndAsync(socket, cancellationToken: timeout.Token);
        if (!back.AsSpan().SequenceEqual(payload)) throw new InvalidDataException("the echo came back altered");
    }
}

/// <summary>Where the repository is, for the example configs and docs/.</summary>
public static class Repository
{
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "LstpActors.sln"))) return dir.FullName;
            }
            throw new DirectoryNotFoundException("LstpActors.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
