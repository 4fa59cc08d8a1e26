using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Middle.Relay;
using Lstp.Protocol.Messages;

namespace Lstp.Middle.Publishing;

/// <summary>
/// One public port this middle opened for an end's service (the relay/agent design): it lives exactly as long
/// as the end's control link. Each plain client that connects is held here, announced to the end with
/// PLAIN_CLIENT, and handed to the data link the end opens for it; a client nobody claims in time is closed.
/// </summary>
public sealed class PublishedPort : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly LinkSession _control;
    private readonly TimeSpan _claimTimeout;
    private readonly Telemetry.MiddleMetrics _metrics;
    private readonly ConcurrentDictionary<ulong, Socket> _pending = new();
    private readonly CancellationTokenSource _closed = new();
    private Task _accepting = Task.CompletedTask;
    private long _nextClient;

    public PublishedPort(IPAddress address, ushort port, string service, LinkSession control, TimeSpan claimTimeout, Telemetry.MiddleMetrics metrics)
    {
        _metrics = metrics;
        _control = control;
        _claimTimeout = claimTimeout;
        Service = service;
        Port = port;
        _listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(new IPEndPoint(address, port));
            _listener.Listen(512);
        }
        catch (SocketException)
        {
            _listener.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts taking plain clients. Called once PUBLISH_ACK is on its way: the end reads PLAIN_CLIENT only after it, so a
    /// client that connected between the listen and the ack (it waits in the backlog meanwhile) made the end refuse the
    /// control link and publish again, and the client was reset.
    /// </summary>
    public void StartAccepting() => _accepting = Task.Run(AcceptAsync);

    public ushort Port { get; }
    public string Service { get; }
    public string EndName => _control.EndName;

    /// <summary>The secret a data link presents to prove it comes from the publishing end.</summary>
    public byte[] Ticket { get; } = RandomNumberGenerator.GetBytes(16);

    public int PendingClients => _pending.Count;

    /// <summary>Hands the plain client <paramref name="clientId"/> to a data link; null if it is gone or unknown.</summary>
    public Socket? Claim(ulong clientId) => _pending.TryRemove(clientId, out var client) ? client : null;

    private async Task AcceptAsync()
    {
        while (!_closed.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_closed.Token).ConfigureAwait(false); }
            catch (Exception) { return; }
            client.NoDelay = true;
            var id = (ulong)Interlocked.Increment(ref _nextClient);
            _pending[id] = client;
            _metrics.PublishedClientArrived();
            _ = ExpireAsync(id);
            try
            {
                await _control.Output.SendAsync(new PlainClient(id, Port, client.RemoteEndPoint?.ToString() ?? "unknown"), _closed.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                return; // the control link is gone; DisposeAsync closes what is pending
            }
        }
    }

    private async Task ExpireAsync(ulong id)
    {
        try
        {
            await Task.Delay(_claimTimeout, _closed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        // Nobody claimed the client in time (or the port closed): it is not held any longer.
        if (_pending.TryRemove(id, out var client)) Drop(client);
    }

    /// <summary>A held client nobody claimed: closed, and no longer counted.</summary>
    private void Drop(Socket client)
    {
        client.Dispose();
        _metrics.PublishedClientLeft();
    }

    public async ValueTask DisposeAsync()
    {
        _closed.Cancel();
        _listener.Dispose();
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var client)) Drop(client);
        }
        await _accepting.ConfigureAwait(false);
        _closed.Dispose();
    }
}
