namespace Lstp.Transport.Dialing;

/// <summary>A user name and password for a proxy; prints as <c>user:***</c> so the password never reaches a log or a message.</summary>
public sealed record ProxyCredentials(string UserName, string Password)
{
    public override string ToString() => $"{UserName}:***";
}
