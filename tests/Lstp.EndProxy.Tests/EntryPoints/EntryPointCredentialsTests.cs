using System.Text;
using Lstp.EndProxy.EntryPoints;

namespace Lstp.EndProxy.Tests.EntryPoints;

public class EntryPointCredentialsTests
{
    private static readonly EntryPointCredentials Alice = new("alice", "s3cret");

    [Theory]
    [InlineData("alice", "s3cret", true)]
    [InlineData("alice", "S3cret", false)]
    [InlineData("Alice", "s3cret", false)]
    [InlineData("alice", "s3cre", false)]
    [InlineData("alice", "", false)]
    [InlineData("", "s3cret", false)]
    public void Matches_only_the_exact_user_name_and_password(string user, string password, bool expected)
    {
        Assert.Equal(expected, Alice.Matches(Encoding.UTF8.GetBytes(user), Encoding.UTF8.GetBytes(password)));
    }

    [Fact]
    public void ToString_never_shows_the_password()
    {
        Assert.Equal("alice:***", Alice.ToString());
        Assert.DoesNotContain("s3cret", Alice.ToString());
    }
}
