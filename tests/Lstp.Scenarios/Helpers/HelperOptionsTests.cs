using Lstp.EndProxy;
using Lstp.EndProxy.Helpers;
using Lstp.Testing;
using Xunit;

namespace Lstp.Scenarios.Helpers;

/// <summary>How <c>--helper SERVICE=PROTOCOL</c> is read and checked against the end's forwards.</summary>
public sealed class HelperOptionsTests
{
    private static EndOptions With(string helper, string forward = "2121=files") => new()
    {
        Forwards = [ForwardSpec.Parse(forward)],
        Helpers = [HelperSpec.Parse(helper)],
    };

    [Fact]
    public void Helper_option_reads_service_and_lower_cased_protocol_and_announces_both()
    {
        var spec = HelperSpec.Parse("files=FTP");
        Assert.Equal(new HelperSpec("files", "ftp"), spec);
        Assert.Equal("ftp:files", spec.Announcement);
        Assert.Equal(["ftp:files"], ApplicationHelpers.Create(With("files=ftp"), new TestLog()).Announcements);
    }

    [Theory]
    [InlineData("files")]
    [InlineData("=ftp")]
    [InlineData("files=")]
    [InlineData("my files=ftp")]
    [InlineData("files=f:tp")]
    public void Helper_option_that_is_malformed_is_a_usage_error(string text) =>
        Assert.StartsWith($"--helper '{text}'", Assert.Throws<FormatException>(() => HelperSpec.Parse(text)).Message);

    [Theory]
    [InlineData("files=sip", "2121=files", "no helper for 'sip' (known: ftp)")]
    [InlineData("other=ftp", "2121=files", "this end has no --forward to service 'other'")]
    [InlineData("files=ftp", "2121=files/dedicated", "cannot be /dedicated")]
    public void Helper_that_cannot_work_on_this_end_is_refused_at_start(string helper, string forward, string why) =>
        Assert.Contains(why, Assert.Throws<FormatException>(() => ApplicationHelpers.Create(With(helper, forward), new TestLog())).Message);

    [Fact]
    public void Data_target_names_the_protocol_and_service_and_never_a_host()
    {
        Assert.Equal("ftp-data:files", new HelperDataTarget("ftp", "files").ToString());
        Assert.True(HelperDataTarget.TryParse("ftp-data:files", out var target));
        Assert.Equal(new HelperDataTarget("ftp", "files"), target);
        Assert.False(HelperDataTarget.TryParse("files.example.com", out _));
        Assert.False(HelperDataTarget.TryParse("::1", out _));
        Assert.False(HelperDataTarget.TryParse("-data:files", out _));
    }
}
