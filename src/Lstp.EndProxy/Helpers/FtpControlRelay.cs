using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Lstp.EndProxy.Services;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Channels;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// The FTP helper's forward half for one control connection: an actor between the local FTP client and the
/// control channel. Two readers cut each side into lines and tell the actor; the actor is the only writer of
/// both sockets.
/// <list type="bullet">
/// <item>Passive: a 227 or 229 reply names the server's port in corp A; the relay opens a local passive port in
/// its place (<see cref="FtpPassiveListener"/>) and, when the client connects, a data channel to the server's port.</item>
/// <item>Active, translated to passive: a PORT or EPRT names the client's port; the relay sends the server PASV or
/// EPSV instead, answers the client "200", and opens a data channel to the server's passive port that ends in a
/// connection to the client's port. The server sees passive mode, the client active mode, and no connection
/// ever has to come into the client's network from outside.</item>
/// </list>
/// Every command sent to the server gets exactly one final reply, in order (RFC 959 §4.2), so a queue of what to
/// do with each reply is all the state the translation needs. A command the relay refuses is sent as NOOP and
/// its reply replaced, which keeps that order without the relay ever writing to the client out of turn.
/// </summary>
internal sealed partial class FtpControlRelay : ReceiveActor
{
    /// <summary>Lines read but not yet handled, per relay: a client that floods commands waits instead of growing memory.</summary>
    private const int LinesInFlight = 256;

    private readonly SemaphoreSlim _lineCredits = new(LinesInFlight, LinesInFlight);
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _stopped;
    private StopReason? _why;
    private readonly Socket _client;
    private readonly Socket _server;
    private readonly IHelperChannels _channels;
    private readonly ILogger _log;
    private readonly IPAddress _clientAddress;
    private readonly IPAddress _localAddress;
    private readonly Queue<Pending> _pending = new();
    private Pending _current = Pending.Relay.Instance;
    private int? _openCode;
    private bool _greeted;
    private bool _clientDone;
    private bool _serverDone;
    private FtpPassiveListener? _passive;

    /// <summary>
    /// The connection to the client's active port, while it is being made. The server went passive and may finish a
    /// transfer before it exists (its "226" overtaking our connect), which a client in active mode reads as a failed
    /// transfer: final replies wait for it.
    /// </summary>
    private Task _activeConnect = Task.CompletedTask;

    public FtpControlRelay(Socket client, Socket server, IHelperChannels channels, ILogger log, (IPAddress Client, IPAddress Local) addresses, TaskCompletionSource stopped)
    {
        _stopped = stopped;
        _client = client;
        _server = server;
        _channels = channels;
        _log = log;
        (_clientAddress, _localAddress) = addresses;
        ReceiveAsync<Event>(OnEventAsync);
    }

    /// <summary>The client's address and ours, read before the actor starts: reading them throws once the client has left.</summary>
    public static (IPAddress Client, IPAddress Local) Addresses(Socket client) =>
        (Normalise(((IPEndPoint)client.RemoteEndPoint!).Address), Normalise(((IPEndPoint)client.LocalEndPoint!).Address));

    private CancellationToken Stopping => _stopping.Token;

    /// <summary>What the actor hears: a whole line from either side, or a side's end.</summary>
    internal abstract record Event
    {
        public sealed record FromClient(byte[] Line) : Event;
        public sealed record FromServer(byte[] Line) : Event;
        public sealed record Ended(bool Client, Exception? Error) : Event;
    }

    /// <summary>What to do with the server's final reply to one command the relay sent.</summary>
    private abstract record Pending
    {
        /// <summary>Pass it on (rewriting a passive reply).</summary>
        public sealed record Relay : Pending
        {
            public static readonly Relay Instance = new();
        }

        /// <summary>Its final reply ends a transfer: pass it on once the client's active data connection exists.</summary>
        public sealed record Transfer : Pending
        {
            public static readonly Transfer Instance = new();
        }

        /// <summary>It answers the PASV/EPSV sent in place of the client's PORT/EPRT.</summary>
        public sealed record ActiveToPassive(IPEndPoint ClientData, string Verb) : Pending;

        /// <summary>It answers the NOOP sent in place of a refused command: the client gets <paramref name="Reply"/>.</summary>
        public sealed record Refused(string Reply) : Pending;
    }

    protected override void PreStart()
    {
        var self = Self;
        _ = Task.Run(() => ReadLinesAsync(self, _client, line => new Event.FromClient(line), client: true));
        _ = Task.Run(() => ReadLinesAsync(self, _server, line => new Event.FromServer(line), client: false));
    }

    /// <summary>
    /// Handles one event; the mailbox waits until it is done. Its awaits keep the actor's context (no
    /// ConfigureAwait(false) here), so what follows them may stop the actor.
    /// </summary>
    private async Task OnEventAsync(Event message)
    {
        if (message is Event.FromClient or Event.FromServer) _lineCredits.Release();
        switch (message)
        {
            case Event.FromClient command:
                await OnCommandAsync(command.Line);
                break;
            case Event.FromServer reply:
                await OnReplyAsync(reply.Line);
                break;
            case Event.Ended { Error: { } error } ended:
                StopWith(StopReason.Failed(new IOException($"the {(ended.Client ? "FTP client" : "control channel")} failed: {error.Message}", error)));
                break;
            case Event.Ended { Client: true }:
                _clientDone = true;
                HalfClose(_server);
                break;
            case Event.Ended:
                _serverDone = true;
                HalfClose(_client);
                break;
        }
        if (_clientDone && _serverDone) StopWith(StopReason.Normal);
    }

    private void StopWith(StopReason why)
    {
        _why ??= why;
        Context.Stop(Self);
    }

    private async ValueTask OnCommandAsync(byte[] line)
    {
        var (verb, argument) = FtpLines.ParseCommand(FtpLines.Text(line));
        switch (verb)
        {
            case "PORT" or "EPRT":
                var parsed = verb == "PORT"
                    ? FtpAddresses.TryParsePortCommand(argument, out var data)
                    : FtpAddresses.TryParseExtendedPortCommand(argument, out data);
                if (!parsed)
                {
                    await RefuseAsync($"501 Syntax error in {verb} argument.\r\n").ConfigureAwait(false);
                }
                else if (!SameHost(data.Address, _clientAddress))
                {
                    // Never connect where the client's own address is not (the FTP bounce attack, RFC 2577 §3).
                    await RefuseAsync($"501 {verb} must name your own address.\r\n").ConfigureAwait(false);
                }
                else
                {
                    _pending.Enqueue(new Pending.ActiveToPassive(data, verb));
                    await SendAsync(_server, verb == "PORT" ? "PASV\r\n" : "EPSV\r\n").ConfigureAwait(false);
                    Log.ActiveToPassive(_log, _channels.Service, verb, data.ToString());
                }
                break;
            case "LPRT" or "LPSV":
                await RefuseAsync($"502 {verb} is not available through the LSTP FTP helper; use PASV, EPSV, PORT or EPRT.\r\n").ConfigureAwait(false);
                break;
            case "AUTH":
                // An encrypted control connection would hide the replies this helper must rewrite. The tunnel
                // between the ends is encrypted anyway; curl --ssl falls back to plain FTP on this answer.
                await RefuseAsync("502 AUTH is not available through the LSTP FTP helper, which must read the control connection.\r\n").ConfigureAwait(false);
                break;
            case "RETR" or "LIST" or "NLST" or "MLSD" or "STOR" or "STOU" or "APPE":
                _pending.Enqueue(Pending.Transfer.Instance);
                await _server.SendAsync(line, SocketFlags.None, Stopping).ConfigureAwait(false);
                break;
            default:
                _pending.Enqueue(Pending.Relay.Instance);
                await _server.SendAsync(line, SocketFlags.None, Stopping).ConfigureAwait(false);
                break;
        }
    }

    private async ValueTask RefuseAsync(string reply)
    {
        _pending.Enqueue(new Pending.Refused(reply));
        await SendAsync(_server, "NOOP\r\n").ConfigureAwait(false);
    }

    private async ValueTask OnReplyAsync(byte[] line)
    {
        var text = FtpLines.Text(line);
        var reply = FtpLines.ParseReply(text, _openCode);
        if (reply.First)
        {
            if (!reply.Last) _openCode = reply.Code;
            if (reply.IsPreliminary || reply.Code == 0)
            {
                _current = Pending.Relay.Instance;
            }
            else if (!_greeted)
            {
                _greeted = true; // the greeting answers no command
                _current = Pending.Relay.Instance;
            }
            else
            {
                _current = _pending.TryDequeue(out var next) ? next : Pending.Relay.Instance;
            }
        }
        else if (reply.Last)
        {
            _openCode = null;
        }

        switch (_current)
        {
            case Pending.Relay when reply.Last && reply.Code is 227 or 229:
                await RelayPassiveAsync(line, text, reply.Code).ConfigureAwait(false);
                break;
            case Pending.Transfer when reply.First && !_activeConnect.IsCompleted:
                try { await _activeConnect.WaitAsync(ServiceCatalog.DialTimeout, Stopping).ConfigureAwait(false); }
                catch (TimeoutException) { } // the connect gave up too; the client hears the server's answer
                await _client.SendAsync(line, SocketFlags.None, Stopping).ConfigureAwait(false);
                break;
            case Pending.Relay or Pending.Transfer:
                await _client.SendAsync(line, SocketFlags.None, Stopping).ConfigureAwait(false);
                break;
            case Pending.ActiveToPassive active when reply.Last:
                await AnswerActiveAsync(active, line, text, reply.Code).ConfigureAwait(false);
                break;
            case Pending.Refused refused when reply.Last:
                await SendAsync(_client, refused.Reply).ConfigureAwait(false);
                break;
            default:
                break; // a line inside a reply this relay replaces
        }
    }

    /// <summary>Offers the client a local passive port in place of the server's, and opens the data channel when it connects.</summary>
    private async ValueTask RelayPassiveAsync(byte[] line, string text, int code)
    {
        if (!TryReadPassivePort(text, code, out var serverPort))
        {
            Log.Unreadable(_log, _channels.Service, text.TrimEnd());
            await _client.SendAsync(line, SocketFlags.None, Stopping).ConfigureAwait(false);
            return;
        }
        if (code == 227 && _localAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            await SendAsync(_client, "425 PASV cannot name this IPv6 address; use EPSV.\r\n").ConfigureAwait(false);
            return;
        }
        _passive?.Dispose();
        var service = _channels.Service;
        var log = _log;
        _passive = new FtpPassiveListener(_localAddress, _clientAddress,
            socket => _channels.OpenData(socket, (ushort)serverPort, outcome => LogRefusedAsync(log, service, serverPort, outcome)), _log);
        Log.Passive(_log, _channels.Service, serverPort, _passive.EndPoint.ToString());
        await SendAsync(_client, code == 227 ? FtpAddresses.PassiveReply(_passive.EndPoint) : FtpAddresses.ExtendedPassiveReply(_passive.EndPoint.Port)).ConfigureAwait(false);
    }

    /// <summary>The server went passive for the client's PORT/EPRT: open the data channel that will end at the client's port, and answer "200".</summary>
    private async ValueTask AnswerActiveAsync(Pending.ActiveToPassive active, byte[] line, string text, int code)
    {
        if (!TryReadPassivePort(text, code, out var serverPort))
        {
            // The server would not go passive: its refusal (4xx/5xx) is the answer to the client's PORT/EPRT too.
            if (code is >= 400 and < 600) await _client.SendAsync(line, SocketFlags.None, Stopping).ConfigureAwait(false);
            else await SendAsync(_client, "425 Can't open data connection: the server's passive reply was not understood.\r\n").ConfigureAwait(false);
            return;
        }
        var socket = new Socket(active.ClientData.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var service = _channels.Service;
        var log = _log;
        // The channel moves no bytes before SERVICE_BEGIN_ACK and awaits this callback before it starts its
        // pumps (docs/protocol.md §7.2), so the socket is connected to the client just in time, and only when
        // the server's end reached the data port.
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _activeConnect = connected.Task;
        if (!_channels.OpenData(socket, (ushort)serverPort, async outcome =>
            {
                try { await ConnectActiveAsync(log, service, socket, active.ClientData, serverPort, outcome).ConfigureAwait(false); }
                finally { connected.TrySetResult(); }
            }))
        {
            connected.TrySetResult();
            await SendAsync(_client, "425 Can't open data connection: the tunnel is closing.\r\n").ConfigureAwait(false);
            return;
        }
        await SendAsync(_client, $"200 {active.Verb} command successful.\r\n").ConfigureAwait(false);
    }

    private static async ValueTask ConnectActiveAsync(ILogger log, string service, Socket socket, IPEndPoint client, int serverPort, ChannelOutcome outcome)
    {
        if (!outcome.Opened)
        {
            await LogRefusedAsync(log, service, serverPort, outcome).ConfigureAwait(false);
            return;
        }
        using var timeout = new CancellationTokenSource(ServiceCatalog.DialTimeout);
        try
        {
            await socket.ConnectAsync(client, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            // The channel finds its socket closed and aborts, which resets the server's data connection.
            Log.ActiveConnectFailed(log, service, client.ToString(), ex.Message);
            socket.Dispose();
        }
    }

    private static ValueTask LogRefusedAsync(ILogger log, string service, int serverPort, ChannelOutcome outcome)
    {
        if (!outcome.Opened) Log.DataRefused(log, service, serverPort, outcome.Code.ToString(), outcome.Reason);
        return ValueTask.CompletedTask;
    }

    private static bool TryReadPassivePort(string text, int code, out int port)
    {
        port = 0;
        if (code == 227 && FtpAddresses.TryParsePassiveReply(text, out var endPoint))
        {
            port = endPoint.Port;
            return true;
        }
        return code == 229 && FtpAddresses.TryParseExtendedPassiveReply(text, out port);
    }

    private ValueTask<int> SendAsync(Socket socket, string line) => socket.SendAsync(FtpLines.Bytes(line), SocketFlags.None, Stopping);

    /// <summary>Reads whole lines off <paramref name="socket"/> in Kestrel's loop shape and tells them to the actor, in order.</summary>
    private async Task ReadLinesAsync(IActorRef self, Socket socket, Func<byte[], Event> toEvent, bool client)
    {
        var reader = PipeReader.Create(new NetworkStream(socket, ownsSocket: false), new StreamPipeReaderOptions(leaveOpen: true));
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(Stopping).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (FtpLines.TryReadLine(ref buffer, out var line))
                {
                    await _lineCredits.WaitAsync(Stopping).ConfigureAwait(false);
                    self.Tell(toEvent(line.ToArray()));
                }
                if (buffer.Length >= HelperLimits.MaxLine) throw new InvalidDataException($"a control line over {HelperLimits.MaxLine} bytes is not FTP");
                var rest = result.IsCompleted && !buffer.IsEmpty ? buffer.ToArray() : null;
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    // A last line without its line end still goes through, as it is.
                    if (rest is not null)
                    {
                        await _lineCredits.WaitAsync(Stopping).ConfigureAwait(false);
                        self.Tell(toEvent(rest));
                    }
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        self.Tell(new Event.Ended(client, error));
    }

    private static void HalfClose(Socket socket)
    {
        try { socket.Shutdown(SocketShutdown.Send); }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
    }

    protected override void PostStop()
    {
        var reason = _why ?? new StopReason("the forward closed");
        _stopping.Cancel();
        _passive?.Dispose();
        if (reason.IsFault)
        {
            Log.Failed(_log, _channels.Service, reason.Why);
            ChannelSockets.Reset(_client);
            ChannelSockets.Reset(_server);
        }
        else
        {
            _client.Dispose();
            _server.Dispose();
        }
        _stopping.Dispose();
        _stopped.TrySetResult();
    }

    /// <summary>Whether two addresses are one host (an IPv4-mapped IPv6 address is its IPv4 address).</summary>
    internal static bool SameHost(IPAddress a, IPAddress b) => Normalise(a).Equals(Normalise(b));

    private static IPAddress Normalise(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static partial class Log
    {
        [LoggerMessage(EventId = 561, Level = LogLevel.Debug, Message = "ftp helper '{Service}': passive data port {ServerPort} offered to the client as {Local}")]
        public static partial void Passive(ILogger logger, string service, int serverPort, string local);

        [LoggerMessage(EventId = 562, Level = LogLevel.Debug, Message = "ftp helper '{Service}': {Verb} {Client} sent to the server as passive mode")]
        public static partial void ActiveToPassive(ILogger logger, string service, string verb, string client);

        [LoggerMessage(EventId = 563, Level = LogLevel.Warning, Message = "ftp helper '{Service}': data channel to port {ServerPort} refused: {Code} {Reason}")]
        public static partial void DataRefused(ILogger logger, string service, int serverPort, string code, string reason);

        [LoggerMessage(EventId = 564, Level = LogLevel.Warning, Message = "ftp helper '{Service}': could not connect to the client's active port {Client}: {Reason}")]
        public static partial void ActiveConnectFailed(ILogger logger, string service, string client, string reason);

        [LoggerMessage(EventId = 565, Level = LogLevel.Warning, Message = "ftp helper '{Service}': passed on a passive reply it cannot read: '{Reply}'")]
        public static partial void Unreadable(ILogger logger, string service, string reply);

        [LoggerMessage(EventId = 567, Level = LogLevel.Information, Message = "ftp helper '{Service}': control connection ended: {Reason}")]
        public static partial void Failed(ILogger logger, string service, string reason);
    }
}
