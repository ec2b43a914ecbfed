using CausalTap.Grpc.Internal;

namespace CausalTap.Grpc.Tests;

public class ProtocolHeadersTests
{
    [Theory]
    [InlineData("plain ascii", "plain ascii")]
    [InlineData("100%", "100%25")]
    [InlineData("\t\ntab", "%09%0Atab")]
    [InlineData("déjà 🚀", "d%C3%A9j%C3%A0 %F0%9F%9A%80")]
    public void PercentEncode_matches_the_protocol_rules(string raw, string encoded)
    {
        Assert.Equal(encoded, ProtocolHeaders.PercentEncode(raw));
        Assert.Equal(raw, ProtocolHeaders.PercentDecode(encoded));
    }

    [Theory]
    [InlineData("bad %zz escape")]
    [InlineData("trailing %4")]
    [InlineData("trailing %")]
    public void PercentDecode_keeps_malformed_escapes(string value)
    {
        Assert.Equal(value, ProtocolHeaders.PercentDecode(value));
    }

    [Theory]
    [InlineData("1H", 3600_000)]
    [InlineData("2M", 120_000)]
    [InlineData("3S", 3_000)]
    [InlineData("250m", 250)]
    [InlineData("1500u", 1.5)]
    [InlineData("2000000n", 2)]
    public void TryDecodeTimeout_reads_every_unit(string header, double expectedMs)
    {
        Assert.True(ProtocolHeaders.TryDecodeTimeout(header, out TimeSpan t));
        Assert.Equal(expectedMs, t.TotalMilliseconds, 6);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10x")]
    [InlineData("-5S")]
    [InlineData("123456789S")]
    public void TryDecodeTimeout_rejects_malformed_values(string header)
    {
        Assert.False(ProtocolHeaders.TryDecodeTimeout(header, out _));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1000)]
    [InlineData(86_400_000)]
    [InlineData(3.0e12)] // ~95 years: ticks * 100 would overflow a long
    public void EncodeTimeout_round_trips_and_never_shortens(double ms)
    {
        TimeSpan timeout = TimeSpan.FromMilliseconds(ms);
        string header = ProtocolHeaders.EncodeTimeout(timeout);
        Assert.True(header.Length <= 9, header);
        Assert.True(ProtocolHeaders.TryDecodeTimeout(header, out TimeSpan back));
        Assert.True(back >= timeout, $"{header} decodes to {back}, shorter than {timeout}");
        Assert.True(back - timeout < TimeSpan.FromMilliseconds(ms * 0.01 + 0.001), $"{header} is too coarse for {timeout}");
    }

    [Theory]
    [InlineData("Content-Type", true)]
    [InlineData("TE", true)]
    [InlineData("Grpc-Timeout", true)]
    [InlineData(":path", true)]
    [InlineData("x-trace-id", false)]
    [InlineData("authorization", false)]
    public void IsReserved_ignores_header_name_case(string key, bool reserved)
    {
        Assert.Equal(reserved, ProtocolHeaders.IsReserved(key));
    }
}
