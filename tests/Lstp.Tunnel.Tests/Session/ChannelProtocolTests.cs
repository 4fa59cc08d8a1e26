using System.Net.Sockets;
using System.Text;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using Xunit;
using Xunit.Abstractions;
using TunnelHandle = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.Tunnel.Tests.Session;

/// <summary>
/// The channel protocol (docs/protocol.md §7.2) frame by frame, with the test playing the peer end over a real
/// loopback link (<see cref="PeerEnd"/>): flow control, half-close, the accepting side, and what a wrong frame
/// closes. Applications and offered services are real loopback sockets; every step waits on a frame, a socket or
/// the TestKit, never on the clock.
/// </summary>
public sealed class ChannelProtocolTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = INFO" + Lstp.Tunnel.Actors.LstpActorSystem.Mailboxes, output), IAsyncLifetime
{
    private static readonly TimeSpan Stops = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Pause at 512 KiB, resume at 64 KiB: half the default, and far enough apart that what the kernel's socket buffers
    /// take from a paused channel late (some 100 KiB at most, below) cannot drain it to RESUME on its own.
    /// </summary>
    private static readonly FlowThresholds Small = new(512 * 1024, 64 * 1024);
    private readonly TestLog _log = new(output);
    private readonly LoopbackServices _services = new();
    private NearEnd? _end;

    private NearEnd End => _end ?? throw new InvalidOperationException("the test starts its tunnel first");
    private TunnelHandle Tunnel => End.Tunnel;
    private PeerEnd Peer => End.Peer;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts the tunnel actor (offering <see cref="_services"/>) over a link to the peer the test plays, and watches it.</summary>
    private async Task StartAsync(TunnelOptions? options = null, EndProperties? peerProperties = null)
    {
        _end = await NearEnd.StartAsync(Sys, _log.CreateLogger("Lstp.Tunnel"), options, _services, peerProperties);
        Watch(Tunnel.Ref);
    }

    public async Task DisposeAsync()
    {
        if (_end is not null) await _end.DisposeAsync();
        _services.Dispose();
    }

    /// <summary>
    /// The near end answers a PING and sent nothing else first (its own keepalive PINGs aside): the tunnel is open,
    /// and it has acted on every frame the peer sent before, since it reads the stream in order.
    /// </summary>
    private async Task AssertAnswersPingAsync(ulong value)
    {
        await Peer.SendAsync(new Ping(value));
        Assert.Equal(new Pong(value), await Peer.NextAsync());
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static async Task<string> ReadTextAsync(Socket socket, int count) => Encoding.ASCII.GetString(await Net.ReadExactlyAsync(socket, count).WaitAsync(TimeSpan.FromSeconds(5)));

    /// <summary>Everything up to the application's FIN; throws on a reset, so a clean end is asserted too.</summary>
    private static async Task<string> ReadToFinAsync(Socket socket) => Encoding.ASCII.GetString(await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(5)));

    /// <summary>Bytes that say where in the stream they stand, so a lost, doubled or reordered chunk shows.</summary>
    private static byte[] Pattern(long offset, int count)
    {
        var bytes = new byte[count];
        for (var i = 0; i < count; i++) bytes[i] = (byte)((offset + i) % 251);
        return bytes;
    }

    /// <summary>
    /// Opens a channel the peer serves, with small fixed kernel buffers between it and its application: the sockets
    /// then take some 100 KiB at most of what the application leaves unread (autotuning would let them take MiBs, at
    /// moments of the kernel's choosing), so the channel's own count decides PAUSE and RESUME.
    /// </summary>
    private async Task<(Socket Application, uint Channel)> OpenChannelWithSmallSocketBuffersAsync(string service)
    {
        var (application, channelSide, opened) = await End.OpenChannelAsync(service);
        channelSide.SendBufferSize = 16 * 1024; // the opener moves no bytes before SERVICE_BEGIN_ACK: the socket is still idle
        application.ReceiveBufferSize = 16 * 1024;
        return (application, await End.ServeAsync(opened));
    }

    // FLOW CONTROL

    [Fact]
    public async Task An_application_that_does_not_read_pauses_the_peer_once_past_the_threshold_and_resumes_it_once_drained()
    {
        await StartAsync(NearEnd.Quiet with { Flow = Small });
        var (application, channel) = await OpenChannelWithSmallSocketBuffersAsync("web");
        const int Chunk = 16 * 1024;

        // The application reads nothing. The peer sends until the near end says PAUSE (the sockets between the
        // channel and its application take a little first); data still in flight then is accepted.
        var pause = Peer.NextAsync(within: TimeSpan.FromSeconds(30));
        long sent = 0;
        while (!pause.IsCompleted && sent < 32 * 1024 * 1024)
        {
            await Peer.SendAsync(new ServiceData(channel, Pattern(sent, Chunk)));
            sent += Chunk;
        }
        Assert.Equal(new ServiceDataPause(channel), await pause);
        for (var i = 0; i < 4; i++, sent += Chunk) await Peer.SendAsync(new ServiceData(channel, Pattern(sent, Chunk)));
        await AssertAnswersPingAsync(1); // the near end has counted all of it, and still pauses the peer: no RESUME, no second PAUSE

        // The application drains: every byte arrives in order, and the next frame the peer hears is RESUME. Its receive
        // buffer grows first: through 16 KiB buffers loopback TCP moves some 170 KB/s (each window waits for a delayed
        // ACK), and on a 2-core machine with a cold thread pool the near end's PAUSE may reach the peer only after
        // 12 MB (its reader outruns its writer), which would then take over a minute to drain.
        application.ReceiveBufferSize = 4 * 1024 * 1024;
        var received = await Net.ReadExactlyAsync(application, (int)sent).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(received.AsSpan().SequenceEqual(Pattern(0, (int)sent)), "the application reads what the peer sent, in order");
        Assert.Equal(new ServiceDataResume(channel), await Peer.NextAsync());
        await AssertAnswersPingAsync(2);
    }

    [Fact]
    public async Task A_peer_that_ignores_PAUSE_past_the_ceiling_gets_ERROR_FlowControl_and_the_tunnel_ends()
    {
        await StartAsync(NearEnd.Quiet with { Flow = Small });
        var (application, channel) = await OpenChannelWithSmallSocketBuffersAsync("web");

        // The ceiling is the pause threshold plus ChannelFlowControl.DefaultCeilingAbovePause (64 MiB); it is not an
        // option, so the peer floods 1 MiB bursts of 64 KiB frames until the near end cuts it.
        var burst = Enumerable.Range(0, 16).SelectMany(_ => new ServiceData(channel, new byte[ProtocolLimits.ServiceDataChunk]).ToFrame()).ToArray();
        using var stop = new CancellationTokenSource();
        long sent = 0;
        var flood = Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested && sent < 256L * 1024 * 1024)
                {
                    await Peer.SendRawAsync(burst);
                    sent += burst.Length;
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                // The near end closed the link under the flood.
            }
        });

        // PAUSE once; the application never drains, so no RESUME; then ERROR.
        Assert.Equal(new ServiceDataPause(channel), await Peer.NextAsync(within: TimeSpan.FromSeconds(60)));
        var error = await Peer.ExpectAsync<Error>(within: TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await flood.WaitAsync(Stops);
        Assert.Equal(ErrorCode.FlowControl, error.Code);
        Assert.True(sent > Small.Pause + ChannelFlowControl.DefaultCeilingAbovePause, $"cut after {sent} bytes, before the ceiling");

        Assert.Empty(await Peer.ReadToCloseAsync()); // ERROR was the last word, then the link closed
        ExpectTerminated(Tunnel.Ref, Stops);
        var reason = await Tunnel.Completion.WaitAsync(Stops);
        Assert.Equal(ErrorCode.FlowControl, Assert.IsType<ProtocolException>(reason.Fault).Code);
        await NearEnd.AssertResetAsync(application);
    }

    [Fact]
    public async Task The_peer_s_PAUSE_holds_back_only_its_own_channel_until_RESUME()
    {
        await StartAsync();
        var (held, heldSide, opened) = await End.OpenChannelAsync("web");
        var one = await End.ServeAsync(opened);
        var (flowing, two) = await End.OpenServedChannelAsync("db");

        await Peer.SendAsync(new ServiceDataPause(one));
        await AssertAnswersPingAsync(1); // the PAUSE is in force

        await held.SendAsync(Ascii("held back"), SocketFlags.None);
        await Eventually.TrueAsync(() => heldSide.Available == 0, "the paused channel read its application's bytes");
        await flowing.SendAsync(Ascii("flows"), SocketFlags.None);
        Assert.Equal(new ServiceData(two, Ascii("flows")), await Peer.NextAsync());
        await AssertAnswersPingAsync(2); // nothing of the paused channel's came first

        await Peer.SendAsync(new ServiceDataResume(one));
        Assert.Equal(new ServiceData(one, Ascii("held back")), await Peer.NextAsync());
    }

    [Fact]
    public async Task A_half_close_while_the_peer_has_paused_the_channel_leaves_after_the_held_data_on_RESUME()
    {
        await StartAsync();
        var (application, side, opened) = await End.OpenChannelAsync("web");
        var channel = await End.ServeAsync(opened);
        await Peer.SendAsync(new ServiceDataPause(channel));
        await AssertAnswersPingAsync(1);

        await application.SendAsync(Ascii("last words"), SocketFlags.None);
        application.Shutdown(SocketShutdown.Send);
        await Eventually.TrueAsync(() => side.Available == 0, "the paused channel read its application's bytes");
        await AssertAnswersPingAsync(2); // neither the data nor SERVICE_FREE_REQUEST while paused

        await Peer.SendAsync(new ServiceDataResume(channel));
        Assert.Equal(new ServiceData(channel, Ascii("last words")), await Peer.NextAsync());
        Assert.Equal(new ServiceFreeRequest(channel, FreeFlags.None), await Peer.NextAsync());
    }

    [Fact]
    public async Task A_bulk_write_goes_out_in_SERVICE_DATA_frames_of_up_to_256_KiB_once_nothing_is_compressed_and_arrives_whole()
    {
        await StartAsync();
        var (application, side, opened) = await End.OpenChannelAsync("web");
        side.ReceiveBufferSize = 4 * 1024 * 1024; // both sockets idle: the kernel may hold the whole write below
        application.SendBufferSize = 4 * 1024 * 1024;
        var channel = await End.ServeAsync(opened);
        await Peer.SendAsync(new ServiceDataPause(channel));
        await AssertAnswersPingAsync(1);

        // Random bytes, which auto compression gives up on after a few 64 KiB frames; paused, the channel reads once and
        // waits, so the rest waits in the kernel and each read after RESUME finds as much as it may take.
        var data = new byte[1024 * 1024];
        new Random(7).NextBytes(data);
        await application.SendAsync(data, SocketFlags.None);
        // The read before the pause took effect took up to one bulk frame; the kernel holds the rest.
        await Eventually.TrueAsync(() => side.Available >= data.Length - ProtocolLimits.ServiceDataRawChunk, "the kernel holds the rest of the write");
        await Peer.SendAsync(new ServiceDataResume(channel));

        var frames = new List<int>();
        var received = new MemoryStream();
        while (received.Length < data.Length)
        {
            var frame = await Peer.ExpectAsync<ServiceData>();
            Assert.Equal(channel, frame.Channel);
            frames.Add(frame.Data.Length);
            received.Write(frame.Data.Span);
        }
        Assert.True(received.ToArray().AsSpan().SequenceEqual(data), "the peer gets the write whole and in order");
        Assert.All(frames, length => Assert.InRange(length, 1, ProtocolLimits.ServiceDataRawChunk - 8));
        Assert.True(frames.Contains(ProtocolLimits.ServiceDataRawChunk - 8), $"no frame of 256 KiB in {string.Join(", ", frames)}");
    }

    // HALF-CLOSE

    [Fact]
    public async Task An_application_that_half_closes_sends_FREE_REQUEST_after_its_data_and_still_receives_until_the_peer_frees_too()
    {
        await StartAsync();
        var (application, channel) = await End.OpenServedChannelAsync("web");

        await application.SendAsync(Ascii("request"), SocketFlags.None);
        application.Shutdown(SocketShutdown.Send);
        Assert.Equal(new ServiceData(channel, Ascii("request")), await Peer.NextAsync());
        Assert.Equal(new ServiceFreeRequest(channel, FreeFlags.None), await Peer.NextAsync());

        // The other direction still carries data.
        await Peer.SendAsync(new ServiceData(channel, Ascii("response, ")));
        Assert.Equal("response, ", await ReadTextAsync(application, 10));
        Assert.Equal(1, Tunnel.ChannelCount);

        // The peer frees its direction too: the application reads the rest, then a FIN, and the near end releases the channel.
        await Peer.SendAsync(new ServiceData(channel, Ascii("the end")), new ServiceFreeRequest(channel, FreeFlags.None));
        Assert.Equal("the end", await ReadToFinAsync(application));
        Assert.Equal(new ServiceFreeResponse(channel), await Peer.NextAsync());
        await Peer.SendAsync(new ServiceFreeResponse(channel));
        await Eventually.TrueAsync(() => Tunnel.ChannelCount == 0, "the freed channel leaves the table");
        await AssertAnswersPingAsync(1);
    }

    [Fact]
    public async Task The_peer_s_FREE_REQUEST_gives_the_application_the_data_then_a_FIN_while_it_can_still_send()
    {
        await StartAsync();
        var (application, channel) = await End.OpenServedChannelAsync("web");

        await Peer.SendAsync(new ServiceData(channel, Ascii("the whole request")), new ServiceFreeRequest(channel, FreeFlags.None));
        Assert.Equal("the whole request", await ReadToFinAsync(application));

        await application.SendAsync(Ascii("the reply"), SocketFlags.None);
        Assert.Equal(new ServiceData(channel, Ascii("the reply")), await Peer.NextAsync());
        Assert.Equal(1, Tunnel.ChannelCount);

        application.Shutdown(SocketShutdown.Send);
        Assert.Equal(new ServiceFreeRequest(channel, FreeFlags.None), await Peer.NextAsync());
        Assert.Equal(new ServiceFreeResponse(channel), await Peer.NextAsync());
        await Eventually.TrueAsync(() => Tunnel.ChannelCount == 0, "the freed channel leaves the table");
        await AssertAnswersPingAsync(1);
    }

    // ACCEPTING SIDE

    [Fact]
    public async Task A_channel_the_peer_opens_to_an_offered_service_is_acknowledged_and_carries_data_both_ways()
    {
        _services.Offer("web");
        await StartAsync();

        // The peer is not the master: it opens even ids, and pipelines its two requests.
        await Peer.SendAsync(new ConnectionRequest(2, ConnectionKind.Multiplexed), new ServiceBeginRequest(2, TargetKind.Service, "web", 0));
        Assert.Equal(new ConnectionAck(2), await Peer.NextAsync());
        Assert.Equal(new ServiceBeginAck(2), await Peer.NextAsync());
        using var target = await _services.AcceptAsync("web");

        await Peer.SendAsync(new ServiceData(2, Ascii("GET /")));
        Assert.Equal("GET /", await ReadTextAsync(target, 5));
        await target.SendAsync(Ascii("200 OK"), SocketFlags.None);
        Assert.Equal(new ServiceData(2, Ascii("200 OK")), await Peer.NextAsync());

        // It closes like any channel: the peer frees, the target reads a FIN and closes its side too.
        await Peer.SendAsync(new ServiceFreeRequest(2, FreeFlags.None));
        Assert.Equal("", await ReadToFinAsync(target));
        target.Shutdown(SocketShutdown.Send);
        Assert.Equal(new ServiceFreeRequest(2, FreeFlags.None), await Peer.NextAsync());
        Assert.Equal(new ServiceFreeResponse(2), await Peer.NextAsync());
        await Eventually.TrueAsync(() => Tunnel.ChannelCount == 0, "the freed channel leaves the table");
    }

    [Theory]
    [InlineData("nope", ErrorCode.UnknownService)]
    [InlineData("closed", ErrorCode.TargetRefused)]
    public async Task A_SERVICE_BEGIN_REQUEST_this_end_cannot_serve_is_answered_SERVICE_BEGIN_NACK_with_its_code(string service, ErrorCode code)
    {
        _services.Offer("web");
        _services.OfferClosed("closed");
        await StartAsync();

        await Peer.SendAsync(new ConnectionRequest(2, ConnectionKind.Multiplexed), new ServiceBeginRequest(2, TargetKind.Service, service, 0));

        Assert.Equal(new ConnectionAck(2), await Peer.NextAsync());
        var nack = await Peer.ExpectAsync<ServiceBeginNack>();
        Assert.Equal((2u, code), (nack.Channel, nack.Code));
        Assert.Contains($"'{service}'", nack.Reason, StringComparison.Ordinal);
        Assert.Equal(0, Tunnel.ChannelCount);
        await AssertAnswersPingAsync(1); // a refused channel does not end its tunnel
    }

    [Fact]
    public async Task A_dedicated_CONNECTION_REQUEST_is_refused_with_CONNECTION_NACK_and_its_pipelined_begin_is_never_dialled()
    {
        _services.Offer("web");
        await StartAsync();

        await Peer.SendAsync(new ConnectionRequest(2, ConnectionKind.Dedicated, Slot: 7), new ServiceBeginRequest(2, TargetKind.Service, "web", 0));

        var nack = await Peer.ExpectAsync<ConnectionNack>();
        Assert.Equal((2u, ErrorCode.ProtocolViolation), (nack.Channel, nack.Code));
        await AssertAnswersPingAsync(1); // no SERVICE_BEGIN_ACK or NACK: the begin request was ignored
        Assert.Equal(0, _services.Dials);
    }

    [Fact]
    public async Task A_CONNECTION_REQUEST_beyond_the_channel_limit_is_refused_with_TooManyChannels_and_the_tunnel_carries_on()
    {
        _services.Offer("web");
        await StartAsync(NearEnd.Quiet with { MaxChannels = 1 });
        await Peer.SendAsync(new ConnectionRequest(2, ConnectionKind.Multiplexed), new ServiceBeginRequest(2, TargetKind.Service, "web", 0));
        Assert.Equal(new ConnectionAck(2), await Peer.NextAsync());
        Assert.Equal(new ServiceBeginAck(2), await Peer.NextAsync());
        using var target = await _services.AcceptAsync("web");

        await Peer.SendAsync(new ConnectionRequest(4, ConnectionKind.Multiplexed), new ServiceBeginRequest(4, TargetKind.Service, "web", 0));

        var nack = await Peer.ExpectAsync<ConnectionNack>();
        Assert.Equal((4u, ErrorCode.TooManyChannels), (nack.Channel, nack.Code));
        await AssertAnswersPingAsync(1);
        Assert.Equal(1, _services.Dials);
        await Peer.SendAsync(new ServiceData(2, Ascii("still served")));
        Assert.Equal("still served", await ReadTextAsync(target, 12));
    }

    // WRONG FRAMES

    public static TheoryData<string, ErrorCode> WrongFrames => new()
    {
        { "a frame of an undefined type", ErrorCode.UnknownType },
        { "a frame longer than an open tunnel reads", ErrorCode.FrameTooLarge },
        { "SERVICE_DATA too short to name its channel", ErrorCode.Malformed },
        { "SERVICE_FREE_REQUEST with a trailing byte", ErrorCode.Malformed },
        { "CONNECTION_REQUEST of an undefined kind", ErrorCode.Malformed },
        { "CONNECTION_REQUEST for an id only this end opens", ErrorCode.ProtocolViolation },
        { "AUTH_PROOF after the handshake", ErrorCode.ProtocolViolation },
        { "WAITING, a link frame, inside the tunnel", ErrorCode.ProtocolViolation },
        { "SERVICE_DATA_COMPRESSED on a tunnel that agreed on no compression", ErrorCode.ProtocolViolation },
    };

    /// <summary>The bytes of each wrong frame, sent while channel 1 (the near end's first) is open.</summary>
    private static byte[] WrongFrame(string what) => what switch
    {
        "a frame of an undefined type" => [0x07, 0x00, 0x00, 0x00],
        "a frame longer than an open tunnel reads" => [(byte)MessageType.ServiceData, 0x20, 0x00, 0x00], // 2 MiB announced; 1 MiB is the limit
        "SERVICE_DATA too short to name its channel" => [(byte)MessageType.ServiceData, 0x00, 0x00, 0x02, 0x00, 0x01],
        "SERVICE_FREE_REQUEST with a trailing byte" => [(byte)MessageType.ServiceFreeRequest, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00],
        "CONNECTION_REQUEST of an undefined kind" => [(byte)MessageType.ConnectionRequest, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x02, 0x07, 0x00, 0x00, 0x00, 0x00],
        "CONNECTION_REQUEST for an id only this end opens" => new ConnectionRequest(3, ConnectionKind.Multiplexed).ToFrame(),
        "AUTH_PROOF after the handshake" => new AuthProof(AuthStage.Nonce, new byte[32]).ToFrame(),
        "WAITING, a link frame, inside the tunnel" => new Waiting(600).ToFrame(),
        "SERVICE_DATA_COMPRESSED on a tunnel that agreed on no compression" => new ServiceDataCompressed(1, CompressedFlags.NewStream, 3, new byte[] { 1, 2, 3 }).ToFrame(),
        _ => throw new ArgumentOutOfRangeException(nameof(what), what, "no such wrong frame"),
    };

    [Theory]
    [MemberData(nameof(WrongFrames))]
    public async Task A_wrong_frame_from_the_peer_gets_ERROR_with_its_code_and_ends_the_tunnel_and_its_channels(string what, ErrorCode code)
    {
        await StartAsync();
        var (application, channel) = await End.OpenServedChannelAsync("web");
        Assert.Equal(1u, channel);

        await Peer.SendRawAsync(WrongFrame(what));

        var frames = await Peer.ReadToCloseAsync();
        var error = Assert.IsType<Error>(Assert.Single(frames, f => f is not Ping));
        Assert.Equal(code, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Reason), "ERROR says why");
        ExpectTerminated(Tunnel.Ref, Stops);
        var reason = await Tunnel.Completion.WaitAsync(Stops);
        Assert.Equal(code, Assert.IsType<ProtocolException>(reason.Fault).Code);
        await NearEnd.AssertResetAsync(application); // a failed tunnel resets its applications (docs/protocol.md §7.2)
    }

    [Fact]
    public async Task Frames_for_a_channel_that_does_not_exist_are_dropped_and_close_nothing()
    {
        await StartAsync();
        var (application, channel) = await End.OpenServedChannelAsync("web");

        await Peer.SendAsync(
            new ServiceData(99, Ascii("stray")),
            new ServiceDataPause(99),
            new ServiceDataResume(99),
            new ServiceBeginAck(99),
            new ServiceFreeRequest(99, FreeFlags.None),
            new ServiceFreeResponse(99),
            new ServiceData(channel, Ascii("for web")));

        Assert.Equal("for web", await ReadTextAsync(application, 7));
        await AssertAnswersPingAsync(1);
        Assert.Equal(1, Tunnel.ChannelCount);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the tunnel actor is still running
    }

    [Fact]
    public async Task Compressed_data_that_does_not_decompress_aborts_only_its_own_channel()
    {
        await StartAsync(peerProperties: EndProperties.None with { Compression = ["deflate"] });
        Assert.True(Tunnel.Compression.Enabled, "the ends agreed on deflate");
        var (broken, one) = await End.OpenServedChannelAsync("web");
        var (healthy, two) = await End.OpenServedChannelAsync("db");

        // 0xFF opens a Deflate block of the reserved type: not a valid stream.
        await Peer.SendAsync(new ServiceDataCompressed(one, CompressedFlags.NewStream, 64, Enumerable.Repeat((byte)0xFF, 16).ToArray()));

        Assert.Equal(new ServiceFreeRequest(one, FreeFlags.Abort), await Peer.NextAsync());
        await NearEnd.AssertResetAsync(broken);
        await Eventually.TrueAsync(() => Tunnel.ChannelCount == 1, "the aborted channel leaves the table");

        await Peer.SendAsync(new ServiceData(two, Ascii("still here")));
        Assert.Equal("still here", await ReadTextAsync(healthy, 10));
        await healthy.SendAsync(Ascii("and here"), SocketFlags.None); // under 64 bytes: sent raw
        Assert.Equal(new ServiceData(two, Ascii("and here")), await Peer.NextAsync());
        await AssertAnswersPingAsync(1);
    }

    [Fact]
    public async Task An_ERROR_from_the_peer_resets_every_application_and_never_ends_one_with_a_FIN_first()
    {
        // A hundred channels make the race visible: completing a channel's inbox before its socket is reset let the
        // downlink half-close the socket first, and the application read a clean end of stream.
        await StartAsync();
        var applications = new List<Socket>();
        for (var i = 0; i < 100; i++) applications.Add((await End.OpenServedChannelAsync($"service-{i}")).Application);

        await Peer.SendAsync(new Error(ErrorCode.Internal, "the peer broke"));
        await Peer.ReadToCloseAsync();
        ExpectTerminated(Tunnel.Ref, Stops);

        var clean = 0;
        foreach (var application in applications)
        {
            try
            {
                await Net.ReadToEndAsync(application).WaitAsync(TimeSpan.FromSeconds(5));
                clean++;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
            }
        }
        Assert.True(clean == 0, $"{clean} of {applications.Count} applications read a clean end of stream (FIN) from a failed tunnel");
    }
}
