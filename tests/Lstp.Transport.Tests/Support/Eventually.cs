using Xunit;

namespace Lstp.Transport.Tests.Support;

/// <summary>Waits for a condition another task makes true (a socket seen closed), failing after <see cref="Echo.TestTimeout"/>.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Echo.TestTimeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }
}
