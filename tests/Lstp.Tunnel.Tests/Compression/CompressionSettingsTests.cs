using Lstp.Tunnel.Compression;
using Xunit;

namespace Lstp.Tunnel.Tests.Compression;

public sealed class CompressionSettingsTests
{
    [Fact]
    public void Parse_of_nothing_is_auto_preferring_deflate_then_brotli()
    {
        var settings = CompressionSettings.Parse([]);

        Assert.Equal(CompressMode.Auto, settings.Mode);
        Assert.Empty(settings.Services);
        Assert.Equal(["deflate", "br"], settings.Announce());
    }

    [Fact]
    public void Parse_reads_the_tunnel_mode_and_per_service_overrides()
    {
        var settings = CompressionSettings.Parse(["on", "db=off", " web = AUTO "]);

        Assert.Equal(CompressMode.On, settings.Mode);
        Assert.Equal(CompressMode.Off, settings.ModeFor("db"));
        Assert.Equal(CompressMode.Auto, settings.ModeFor("web"));
        Assert.Equal(CompressMode.On, settings.ModeFor("other"));
        Assert.Equal(CompressMode.On, settings.ModeFor(null));
        Assert.Equal("on, db=off, web=auto", settings.ToString());
    }

    [Theory]
    [InlineData("fast", "expected auto, on, off")]
    [InlineData("db=maybe", "expected auto, on, off")]
    [InlineData("=off", "expected auto, on, off")]
    public void Parse_of_a_bad_value_names_it(string value, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => CompressionSettings.Parse([value]));

        Assert.Contains($"--compress '{value}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_of_two_different_tunnel_modes_is_refused()
    {
        var ex = Assert.Throws<FormatException>(() => CompressionSettings.Parse(["auto", "off"]));
        Assert.Contains("already auto", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_of_one_service_with_two_modes_is_refused()
    {
        var ex = Assert.Throws<FormatException>(() => CompressionSettings.Parse(["db=off", "db=on"]));
        Assert.Contains("'db' is already off", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_off_end_announces_none()
    {
        Assert.Equal(["none"], CompressionSettings.Parse(["off"]).Announce());
        Assert.Equal(["none"], (CompressionSettings.Default with { Methods = [] }).Announce());
    }

    [Fact]
    public void An_off_end_with_a_service_that_compresses_still_announces_its_methods()
    {
        Assert.Equal(["deflate", "br"], CompressionSettings.Parse(["off", "logs=on"]).Announce());
    }

    [Fact]
    public void RequireServices_refuses_an_override_for_a_service_this_end_does_not_name()
    {
        var settings = CompressionSettings.Parse(["wbe=off"]);

        var ex = Assert.Throws<FormatException>(() => settings.RequireServices(["web", "db"]));

        Assert.Contains("'wbe'", ex.Message, StringComparison.Ordinal);
        CompressionSettings.Parse(["web=off"]).RequireServices(["web"]);
    }
}
