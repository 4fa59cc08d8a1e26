using Lstp.Cli.Configuration.Hocon;
using Xunit;

namespace Lstp.Admin.Tests.Check;

/// <summary>The HOCON that config files are written in: what it reads, and how the file's akka section reaches Akka.</summary>
public sealed class HoconReaderTests
{
    [Fact]
    public void Reads_objects_dotted_keys_arrays_comments_and_both_separators()
    {
        var root = HoconReader.Read("""
            # a comment
            lstp.end {
              name = corp-b          // trailing comment
              middle = [ "a:1", b:2
                         c:3 ]
              socks: 1080, plaintext = true
            }
            lstp { end.admin = "127.0.0.1:7782" }
            """);
        var end = Assert.IsType<HoconObject>(root.At("lstp.end"));
        Assert.Equal(["name", "middle", "socks", "plaintext", "admin"], end.Fields.Select(f => f.Key));
        Assert.Equal("corp-b", Assert.IsType<HoconScalar>(end["name"]).Text);
        Assert.Equal(["a:1", "b:2", "c:3"], Assert.IsType<HoconArray>(end["middle"]).Items.Cast<HoconScalar>().Select(s => s.Text));
        Assert.Equal(4, end["middle"]!.Line);
        Assert.Equal("1080", Assert.IsType<HoconScalar>(end["socks"]).Text);
    }

    [Fact]
    public void A_later_key_wins_and_objects_merge()
    {
        var root = HoconReader.Read("a { x = 1, y = 2 }\na { y = 3 }\nb = 1\nb = 2\n");
        Assert.Equal("1", ((HoconScalar)root.At("a.x")!).Text);
        Assert.Equal("3", ((HoconScalar)root.At("a.y")!).Text);
        Assert.Equal("2", ((HoconScalar)root.At("b")!).Text);
    }

    [Fact]
    public void Substitutions_come_from_the_environment_and_an_optional_unset_one_leaves_the_key_out()
    {
        var environment = new Dictionary<string, string> { ["SECRET"] = "s3cret" };
        var root = HoconReader.Read("secret = ${SECRET}\nname = ${?UNSET}\n", environment.GetValueOrDefault);
        Assert.Equal("s3cret", ((HoconScalar)root.At("secret")!).Text);
        Assert.Null(root.At("name"));
    }

    [Fact]
    public void A_json_file_reads_as_it_is()
    {
        var root = HoconReader.Read("""{ "lstp": { "end": { "middle": ["a:1"], "name": "x\u0041\"" } } }""");
        Assert.Equal("xA\"", ((HoconScalar)root.At("lstp.end.name")!).Text);
    }

    [Fact]
    public void The_akka_section_reaches_the_actor_system_configuration_quoted_as_text()
    {
        var config = AkkaSection("""
            akka {
              loglevel = INFO
              cluster.split-brain-resolver.stable-after = 7s
              actor.serialization-bindings { "System.Object" = json }
              remote.dot-netty.tcp.enable-ssl = on
            }
            """);
        Assert.Equal("INFO", config.GetString("akka.loglevel"));
        Assert.Equal(TimeSpan.FromSeconds(7), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.True(config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.Equal("json", config.GetConfig("akka.actor.serialization-bindings").GetString("\"System.Object\""));
    }

    [Fact]
    public async Task A_middle_and_an_end_run_their_actor_systems_with_the_file_s_akka_section()
    {
        var akka = AkkaSection("akka { actor.ask-timeout = 7s }");
        using var loggers = Microsoft.Extensions.Logging.LoggerFactory.Create(_ => { });
        await using var middle = await StartMiddleAsync(akka, loggers);
        Assert.Equal(TimeSpan.FromSeconds(7), middle.Actors.Settings.Config.GetTimeSpan("akka.actor.ask-timeout"));
        // What the file does not name keeps the embedded defaults.
        Assert.Equal("WARNING", middle.Actors.Settings.Config.GetString("akka.loglevel"));
        Assert.Equal(TimeSpan.FromMilliseconds(100), middle.Actors.Settings.Config.GetTimeSpan("akka.scheduler.tick-duration"));
        await using var end = Lstp.EndProxy.EndProxyHost.Start(new Lstp.EndProxy.EndOptions { Middles = [middle.LinkAddress], Secret = "s", ActorConfig = akka }, loggers);
        Assert.Equal(TimeSpan.FromSeconds(7), end.Actors.Settings.Config.GetTimeSpan("akka.actor.ask-timeout"));
        Assert.Equal(TimeSpan.FromMilliseconds(100), end.Actors.Settings.Config.GetTimeSpan("akka.scheduler.tick-duration"));
    }

    [Fact]
    public async Task A_file_may_give_the_scheduler_back_its_finer_tick()
    {
        // The embedded 100 ms tick saves an idle node most of its wake-ups; a deployment that wants Akka's 10 ms says so.
        using var loggers = Microsoft.Extensions.Logging.LoggerFactory.Create(_ => { });
        await using var middle = await StartMiddleAsync(AkkaSection("akka { scheduler.tick-duration = 10ms }"), loggers);
        Assert.Equal(TimeSpan.FromMilliseconds(10), middle.Actors.Settings.Config.GetTimeSpan("akka.scheduler.tick-duration"));
    }

    /// <summary>What a config file holding <paramref name="hocon"/> gives its node's actor system.</summary>
    private static Akka.Configuration.Config AkkaSection(string hocon) => HoconFile.ToAkka((HoconObject)HoconReader.Read(hocon).At("akka")!);

    /// <summary>A middle on a free loopback port, without its admin endpoint, whose actor system runs with <paramref name="akka"/>.</summary>
    private static Task<Lstp.Admin.MiddleHost> StartMiddleAsync(Akka.Configuration.Config akka, Microsoft.Extensions.Logging.ILoggerFactory loggers) =>
        Lstp.Admin.MiddleHost.StartAsync(new Lstp.Middle.MiddleOptions { Listen = new("127.0.0.1", 0), Admin = null, ActorConfig = akka }, loggers);
}
