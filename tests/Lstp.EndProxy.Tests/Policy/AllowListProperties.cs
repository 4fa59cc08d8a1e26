using System.Net;
using FsCheck;
using FsCheck.Fluent;
using Lstp.EndProxy.Policy;

namespace Lstp.EndProxy.Tests.Policy;

public class AllowListProperties
{
    private static readonly Gen<byte> AnyByte = Gen.Choose(0, 255).Select(i => (byte)i);

    /// <summary>A CIDR network (host bits cleared) and an address that is inside it half the time.</summary>
    private static Gen<(byte[] Network, int Prefix, byte[] Address)> NetworkAndAddress(int size) =>
        from network in AnyByte.ArrayOf(size)
        from prefix in Gen.Choose(0, size * 8)
        from hostBits in AnyByte.ArrayOf(size)
        from random in AnyByte.ArrayOf(size)
        from inside in Gen.Elements(true, false)
        let masked = Mask(network, prefix)
        select (masked, prefix, inside ? Combine(masked, hostBits, prefix) : random);

    [Fact]
    public void An_IPv4_address_is_allowed_exactly_when_a_CIDR_rule_covers_it()
    {
        Prop.ForAll(Arb.From(NetworkAndAddress(4)), c =>
        {
            var network = new IPAddress(c.Network);
            var address = new IPAddress(c.Address);
            var list = AllowList.Parse([$"{network}/{c.Prefix}:443"]);
            var expected = InPrefix(c.Network, c.Address, c.Prefix) && !address.Equals(IPAddress.Any);

            return list.CheckName(address.ToString(), 443).IsAllowed == expected
                && !list.CheckName(address.ToString(), 444).IsAllowed;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void An_IPv6_address_is_allowed_exactly_when_a_CIDR_rule_covers_it()
    {
        Prop.ForAll(Arb.From(NetworkAndAddress(16)), c =>
        {
            var network = new IPAddress(c.Network);
            var address = new IPAddress(c.Address);
            var list = AllowList.Parse([$"[{network}]/{c.Prefix}:*"]);
            // Mapped addresses are IPv4, so only a rule that was itself mapped (and so became IPv4) covers them.
            var mappedRule = network.IsIPv4MappedToIPv6 && c.Prefix >= 96;
            var unspecified = address.Equals(IPAddress.IPv6Any)
                || (address.IsIPv4MappedToIPv6 && address.MapToIPv4().Equals(IPAddress.Any));
            var expected = InPrefix(c.Network, c.Address, c.Prefix)
                && address.IsIPv4MappedToIPv6 == mappedRule
                && !unspecified;

            return list.CheckName(address.ToString(), 8080).IsAllowed == expected;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void A_mapped_IPv6_address_gets_the_same_answer_as_its_IPv4_address()
    {
        var list = AllowList.Parse(["10.0.0.0/8:443", "192.168.0.0/16:*", "127.0.0.1:22", "*:443"]);
        var gen = from bytes in AnyByte.ArrayOf(4)
                  from port in Gen.Elements(22, 80, 443)
                  select (Address: new IPAddress(bytes), Port: port);

        Prop.ForAll(Arb.From(gen), c =>
            list.CheckName(c.Address.ToString(), c.Port).IsAllowed
            == list.CheckName(c.Address.MapToIPv6().ToString(), c.Port).IsAllowed).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void A_wildcard_host_rule_matches_every_name_below_its_suffix_and_never_the_suffix()
    {
        var gen = from name in Name
                  from suffix in Name
                  select (Name: name, Suffix: suffix);

        Prop.ForAll(Arb.From(gen), c =>
        {
            var list = AllowList.Parse([$"*.{c.Suffix}:443"]);
            return list.CheckName($"{c.Name}.{c.Suffix}", 443).IsAllowed
                && !list.CheckName(c.Suffix, 443).IsAllowed
                && !list.CheckName($"{c.Name}{c.Suffix}", 443).IsAllowed;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Parse_of_Patterns_round_trips()
    {
        Prop.ForAll(Arb.From(Pattern.NonEmptyListOf()), patterns =>
        {
            var list = AllowList.Parse(patterns);
            var again = AllowList.Parse(list.Patterns);
            return again.Patterns.SequenceEqual(list.Patterns) && list.Patterns.Count <= patterns.Count;
        }).QuickCheckThrowOnFailure();
    }

    // A letter first keeps generated names from reading as IPv4 literals such as 1.2.
    private static readonly Gen<string> Label =
        from first in Gen.Elements("abcdefghijklmnopqrstuvwxyz".ToCharArray())
        from length in Gen.Choose(0, 9)
        from rest in Gen.Elements("abcdefghijklmnopqrstuvwxyz0123456789-_".ToCharArray()).ArrayOf(length)
        select first + new string(rest);

    private static readonly Gen<string> Name =
        from count in Gen.Choose(1, 4)
        from labels in Label.ArrayOf(count)
        select string.Join('.', labels);

    private static readonly Gen<string> Ports = Gen.OneOf(
        Gen.Constant("*"),
        Gen.Choose(1, 65535).Select(p => p.ToString()),
        from low in Gen.Choose(1, 65535)
        from high in Gen.Choose(low, 65535)
        select $"{low}-{high}");

    /// <summary>Valid patterns in the spellings users write, normalised or not.</summary>
    private static readonly Gen<string> Pattern =
        from target in Gen.OneOf(
            NetworkAndAddress(4).Select(c => $"{new IPAddress(c.Network)}/{c.Prefix}"),
            NetworkAndAddress(16).Select(c => $"[{new IPAddress(c.Network)}]/{c.Prefix}"),
            NetworkAndAddress(16).Select(c => $"{new IPAddress(c.Network)}/{c.Prefix}"),
            AnyByte.ArrayOf(4).Select(b => new IPAddress(b).MapToIPv6()).Select(a => $"[{a}]"),
            Name.Select(n => n.ToUpperInvariant()),
            Name.Select(n => "*." + n),
            Gen.Constant("*"))
        from ports in Ports
        select $"{target}:{ports}";

    private static byte MaskByte(int index, int prefix) => (byte)(0xFF << (8 - Math.Clamp(prefix - (index * 8), 0, 8)));

    private static byte[] Mask(byte[] address, int prefix) =>
        address.Select((b, i) => (byte)(b & MaskByte(i, prefix))).ToArray();

    /// <summary>The network's bits under the prefix, the host bits' bits past it: an address inside the network.</summary>
    private static byte[] Combine(byte[] network, byte[] hostBits, int prefix) =>
        network.Select((n, i) => (byte)(n | (hostBits[i] & ~MaskByte(i, prefix)))).ToArray();

    private static bool InPrefix(byte[] network, byte[] address, int prefix) =>
        Mask(address, prefix).SequenceEqual(network);
}
