namespace CausalTap.Grpc.Tests;

public class MetadataTests
{
    [Fact]
    public void Keys_are_lower_cased_and_last_value_wins()
    {
        var m = new Metadata().Add("X-Trace", "a").Add("x-trace", "b");
        Assert.Equal("b", m.GetValue("X-TRACE"));
        Assert.Equal(new[] { "a", "b" }, m.GetAll("x-trace").Select(e => e.Value));
    }

    [Fact]
    public void Binary_values_need_a_bin_key_and_vice_versa()
    {
        var m = new Metadata().Add("blob-bin", new byte[] { 0, 1, 255 });
        Assert.Equal(new byte[] { 0, 1, 255 }, m.GetValueBytes("blob-bin"));
        Assert.Throws<ArgumentException>(() => new Metadata.Entry("blob", new byte[] { 1 }));
        Assert.Throws<ArgumentException>(() => new Metadata.Entry("blob-bin", "text"));
    }

    [Theory]
    [InlineData("grpc-status")]
    [InlineData("bad key")]
    [InlineData("bad:key")]
    [InlineData("")]
    public void Invalid_or_reserved_keys_are_rejected(string key)
    {
        Assert.ThrowsAny<ArgumentException>(() => new Metadata.Entry(key, "v"));
    }

    [Fact]
    public void Non_ascii_values_are_rejected_where_they_are_made()
    {
        Assert.Throws<ArgumentException>(() => new Metadata.Entry("k", "naïve"));
        Assert.Throws<ArgumentException>(() => new Metadata.Entry("k", "line\nbreak"));
    }
}
