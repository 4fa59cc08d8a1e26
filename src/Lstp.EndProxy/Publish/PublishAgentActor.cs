using Akka.Actor;
using Lstp.EndProxy.Connect;
using Lstp.EndProxy.Services;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Publish;

/// <summary>
/// The agent of one published port, one handler per state switched with <c>Become</c>:
/// <code>
/// Connecting ──PUBLISH_ACK──► Published ──link lost, ERROR──► BackingOff ──backoff elapsed──► Connecting
///     └──────────── refused, unreachable ──────────────────────────┘
/// </code>
/// Published, each PLAIN_CLIENT the middle announces gets its own data link (<see cref="PlainClientLink"/>), whose
/// outcome comes back here to be logged. The control link's reader, its keepalive and the data links are tasks
/// this actor starts and stops: stopping it (the end stops) cancels them all.
/// </summary>
internal sealed partial class PublishAgentActor(PublishSpec spec, ServiceSpec service, EndOptions options, IDialer dialer, ILogger log, PublishAgent facade) : UntypedActor
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Backoff _backoff = new(options.BackoffMin, options.BackoffMax);
    private CancellationTokenSource? _linkAlive;
    private PublishControlLink? _link;
    private int _seed;

    private sealed record Opened(PublishControlLink Link);

    private sealed record Failed(HostPort Middle, Exception Error);

    /// <summary>A message on a control link; <see cref="Link"/> tells a late one from a link already closed.</summary>
    private sealed record FromMiddle(PublishControlLink Link, Message Message);

    private sealed record Lost(PublishControlLink Link, Exception? Error);

    private sealed record ClientDone(ulong Client, string? Why);

    private sealed class Retry
    {
        public static readonly Retry Instance = new();
    }

    protected override void PreStart() => Connect();

    protected override void OnReceive(object message) => Connecting(message);

    // STATES

    /// <summary>Connecting: dialling the next middle and asking for the port.</summary>
    private void Connecting(object message)
    {
        switch (message)
        {
            case Opened opened:
                Publish(opened.Link);
                break;
            case Failed failed:
                Log.ControlFailed(log, spec.Service, spec.Port, failed.Middle.ToString(), failed.Error.Message);
                // A refusal is the middle's answer about this port: ask the same middle again; anything else, the next.
                if (failed.Error is not ProtocolException { Code: ErrorCode.PublishRefused }) _seed++;
                BackOff(failed.Error.Message);
                break;
            default:
                Common(message);
                break;
        }
    }

    /// <summary>Published: the middle holds the port; plain clients are served as they come.</summary>
    private void Published(object message)
    {
        if (message is FromMiddle { Link: var from } && from != _link || message is Lost { Link: var gone } && gone != _link) return; // a closed link's
        switch (message)
        {
            case FromMiddle { Message: PlainClient client }:
                var link = _link!;
                var self = Self;
                _ = PlainClientLink.ServeAsync(service, dialer, link.Middle, client, link.Ack.Ticket, _stop.Token)
                    .ContinueWith(t => self.Tell(new ClientDone(client.ClientId, t.IsCompletedSuccessfully ? t.Result : t.Exception?.GetBaseException().Message)), TaskScheduler.Default);
                break;
            case FromMiddle { Message: Ping ping }:
                _ = _link!.SendAsync(new Pong(ping.Value), _linkAlive!.Token); // a failed write ends the reader too
                break;
            case FromMiddle { Message: Pong or Waiting }:
                break;
            case FromMiddle { Message: Error error }:
                Lose($"the middle ended the publication of {spec.Service} on port {spec.Port}: {error.Code} {error.Reason}");
                break;
            case FromMiddle { Message: var other }:
                Lose($"unexpected {other} on the publish control link");
                break;
            case Lost lost:
                Lose(lost.Error?.Message ?? "the middle closed the control link");
                break;
            default:
                Common(message);
                break;
        }
    }

    /// <summary>BackingOff: waiting before the next attempt.</summary>
    private void BackingOff(object message)
    {
        switch (message)
        {
            case Retry:
                Connect();
                break;
            default:
                Common(message);
                break;
        }
    }

    /// <summary>What every state handles: a data link's outcome, and what a link closed earlier still reports.</summary>
    private void Common(object message)
    {
        switch (message)
        {
            case FromMiddle or Lost:
                break; // a closed link's: Published handles its own link's before this
            case ClientDone { Why: { } why } done:
                Log.ClientFailed(log, spec.Service, done.Client, why);
                break;
            case ClientDone:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    // TRANSITIONS

    private void Connect()
    {
        Become(Connecting);
        var middle = options.Middles[_seed % options.Middles.Count];
        var request = new PublishRequest(spec.Service, spec.Port, Tunnel.Security.TunnelSecret.FromPassphrase(options.Secret).PublishOwner);
        PublishControlLink.OpenAsync(middle, dialer, request, options.Token, options.Timings, _stop.Token)
            .PipeTo(Self, success: link => new Opened(link), failure: error => new Failed(middle, error));
    }

    private void Publish(PublishControlLink link)
    {
        _link = link;
        _linkAlive = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        _backoff.Reset();
        facade.Report(published: true, error: null);
        Log.Published(log, spec.Service, link.Ack.Port, link.Middle.ToString());
        var self = Self;
        link.ReadAsync(m => self.Tell(new FromMiddle(link, m)), options.Timings, _linkAlive.Token)
            .PipeTo(Self, success: () => new Lost(link, null), failure: error => new Lost(link, error));
        _ = link.KeepAliveAsync(options.Timings, options.Time, _linkAlive.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        Become(Published);
    }

    /// <summary>The control link is gone (or must go): close it and try again after the backoff, at the next middle.</summary>
    private void Lose(string why)
    {
        Log.ControlFailed(log, spec.Service, spec.Port, _link!.Middle.ToString(), why);
        CloseLink();
        _seed++;
        BackOff(why);
    }

    private void BackOff(string why)
    {
        facade.Report(published: false, error: why);
        Become(BackingOff);
        Task.Delay(_backoff.Next(), options.Time, _stop.Token).PipeTo(Self, success: () => Retry.Instance, failure: _ => Retry.Instance);
    }

    private void CloseLink()
    {
        _linkAlive?.Cancel();
        _linkAlive?.Dispose();
        _linkAlive = null;
        if (_link is { } link) _ = link.DisposeAsync().AsTask();
        _link = null;
    }

    protected override void PostStop()
    {
        _stop.Cancel();
        CloseLink();
        facade.Report(published: false, error: facade.LastError);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 530, Level = LogLevel.Information, Message = "service {Service} published on the middle {Middle}, port {Port}")]
        public static partial void Published(ILogger logger, string service, int port, string middle);

        [LoggerMessage(EventId = 531, Level = LogLevel.Warning, Message = "publishing {Service} on port {Port} at {Middle} failed: {Reason}; retrying")]
        public static partial void ControlFailed(ILogger logger, string service, int port, string middle, string reason);

        [LoggerMessage(EventId = 532, Level = LogLevel.Information, Message = "published {Service}: plain client {Client} failed: {Reason}")]
        public static partial void ClientFailed(ILogger logger, string service, ulong client, string reason);
    }
}
