using System.Buffers;
using Lstp.Protocol.Framing;

namespace Lstp.Protocol.Tests.Framing;

public class PreambleTests
{
    [Theory]
    [InlineData(LinkRole.End, "4c 53 54 50 01 01 00 00")]
    [InlineData(LinkRole.Node, "4c 53 54 50 01 02 00 00")]
    [InlineData(LinkRole.Data, "4c 53 54 50 01 03 00 00")]
    public void Create_WritesMagicVersionRoleAndTwoReservedZeros(LinkRole role, string hex)
    {
        Assert.Equal(hex, Bytes.Hex(Preamble.Create(role)));
    }

    [Theory]
    [InlineData(LinkRole.End)]
    [InlineData(LinkRole.Node)]
    [InlineData(LinkRole.Data)]
    public void TryRead_ValidPreamble_ReturnsTheRoleAndConsumesEightBytes(LinkRole role)
    {
        var buffer = Bytes.Sequence([.. Preamble.Create(role), 0x20]);

        Assert.True(Preamble.TryRead(ref buffer, out var read));
        Assert.Equal(role, read);
        Assert.Equal(new byte[] { 0x20 }, buffer.ToArray());
    }

    [Fact]
    public void TryRead_ShortInput_ReturnsFalseAtEveryTruncationPoint()
    {
        var preamble = Preamble.Create(LinkRole.End);
        for (var length = 0; length < Preamble.Size; length++)
        {
            var buffer = Bytes.Sequence(preamble[..length]);
            Assert.False(Preamble.TryRead(ref buffer, out _), $"cut at {length}");
            Assert.Equal(length, buffer.Length);
        }
    }

    [Fact]
    public void TryRead_SplitAcrossSegments_ReadsTheSame()
    {
        var preamble = Preamble.Create(LinkRole.Node);
        for (var cut = 1; cut < Preamble.Size; cut++)
        {
            var buffer = Bytes.Split(preamble, cut);
            Assert.True(Preamble.TryRead(ref buffer, out var role));
            Assert.Equal(LinkRole.Node, role);
        }
    }

    [Theory]
    [InlineData("48 54 54 50 2f 31 2e 31")] // "HTTP/1.1": someone pointed a web client at the middle
    [InlineData("16 03 01 02 00 01 00 01")] // a TLS ClientHello
    [InlineData("4c 53 54 51 01 01 00 00")] // LSTQ
    [InlineData("6c 73 74 70 01 01 00 00")] // lowercase
    public void TryRead_BadMagic_ThrowsBadPreamble(string hex)
    {
        var buffer = Bytes.Sequence(Bytes.FromHex(hex));

        var ex = Assert.Throws<ProtocolException>(() => Preamble.TryRead(ref buffer, out _));
        Assert.Equal(ErrorCode.BadPreamble, ex.Code);
    }

    [Theory]
    [InlineData("47")]
    [InlineData("4c 00")]
    [InlineData("4c 53 54 00")]
    public void TryRead_BadMagicInAPartialPreamble_ThrowsWithoutWaitingForEightBytes(string hex)
    {
        var buffer = Bytes.Sequence(Bytes.FromHex(hex));

        var ex = Assert.Throws<ProtocolException>(() => Preamble.TryRead(ref buffer, out _));
        Assert.Equal(ErrorCode.BadPreamble, ex.Code);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(255)]
    public void TryRead_OtherVersion_ThrowsBadPreamble(byte version)
    {
        var bytes = Preamble.Create(LinkRole.End);
        bytes[4] = version;
        var buffer = Bytes.Sequence(bytes);

        var ex = Assert.Throws<ProtocolException>(() => Preamble.TryRead(ref buffer, out _));
        Assert.Equal(ErrorCode.BadPreamble, ex.Code);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(255)]
    public void TryRead_UnknownRole_ThrowsBadPreamble(byte role)
    {
        var bytes = Preamble.Create(LinkRole.End);
        bytes[5] = role;
        var buffer = Bytes.Sequence(bytes);

        var ex = Assert.Throws<ProtocolException>(() => Preamble.TryRead(ref buffer, out _));
        Assert.Equal(ErrorCode.BadPreamble, ex.Code);
    }

    [Fact]
    public void TryRead_NonZeroReservedBytes_AreIgnored()
    {
        // docs/protocol.md §2: senders write zeros, receivers ignore them (room for a later version).
        var bytes = Preamble.Create(LinkRole.Data);
        bytes[6] = 0xAB;
        bytes[7] = 0xCD;
        var buffer = Bytes.Sequence(bytes);

        Assert.True(Preamble.TryRead(ref buffer, out var role));
        Assert.Equal(LinkRole.Data, role);
    }
}
