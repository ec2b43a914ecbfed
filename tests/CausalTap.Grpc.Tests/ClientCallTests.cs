using CausalTap.Grpc.Client;
using Google.Protobuf.WellKnownTypes;
using M = CausalTap.Grpc.Tests.ClientEchoMethods;

namespace CausalTap.Grpc.Tests;

/// <summary>The four call shapes, status and metadata against Python grpcio.</summary>
[Collection(ClientPeerCollection.Name)]
public class ClientCallTests(ClientPeerFixture peer)
{
    private readonly GrpcChannel _channel = peer.Channel;

    [Fact]
    public async Task Unary_ReturnsTheResponseAndOkStatus()
    {
        using var call = _channel.UnaryCall(M.Echo, new StringValue { Value = "héllo ✓" }, M.Guard());
        StringValue response = await call;

        Assert.Equal("héllo ✓", response.Value);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.NotNull(await call.ResponseHeadersAsync);
    }

    [Fact]
    public async Task ServerStreaming_ReturnsEveryMessageInOrder()
    {
        using var call = _channel.ServerStreamingCall(M.Count, new Int32Value { Value = 50 }, M.Guard());
        var received = new List<int>();
        await foreach (Int32Value m in call.ResponseStream.ReadAllAsync()) received.Add(m.Value);

        Assert.Equal(Enumerable.Range(0, 50), received);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.False(await call.ResponseStream.MoveNext()); // stays at the end
    }

    [Fact]
    public async Task ClientStreaming_ServerSeesEveryMessage()
    {
        using var call = _channel.ClientStreamingCall(M.Sum, M.Guard());
        for (int i = 1; i <= 100; i++) await call.RequestStream.WriteAsync(new Int32Value { Value = i });
        await call.RequestStream.CompleteAsync();

        Assert.Equal(5050, (await call).Value);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Duplex_PingPong_EachMessageIsFlushedOnItsOwn()
    {
        // The server answers a message only after it arrives, so every round trip proves a per-message flush.
        using var call = _channel.DuplexStreamingCall(M.Chat, M.Guard());
        for (int i = 0; i < 10; i++)
        {
            await call.RequestStream.WriteAsync(new StringValue { Value = $"m{i}" });
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Equal($"echo:m{i}", call.ResponseStream.Current.Value);
        }
        await call.RequestStream.CompleteAsync();

        Assert.False(await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Writer_RejectsWritesAfterComplete()
    {
        using var call = _channel.ClientStreamingCall(M.Sum, M.Guard());
        await call.RequestStream.WriteAsync(new Int32Value { Value = 7 });
        await call.RequestStream.CompleteAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => call.RequestStream.WriteAsync(new Int32Value { Value = 1 }));
        Assert.Equal(7, (await call).Value);
    }

    [Fact]
    public async Task ErrorStatus_CarriesCodeUnicodeDetailAndTrailers()
    {
        const string detail = "nöt fôund: ✓ 100% / 日本";
        using var call = _channel.UnaryCall(M.Fail, new StringValue { Value = $"{(int)StatusCode.NotFound}|{detail}" }, M.Guard());

        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal(detail, ex.Status.Detail);
        Assert.Equal("yes", ex.Trailers.GetValue("x-fail-trailer"));
        Assert.Equal(ex.Status, call.GetStatus());
        Assert.Equal("yes", call.GetTrailers().GetValue("x-fail-trailer"));
    }

    [Fact]
    public async Task Metadata_FlowsBothWays_IncludingBinary()
    {
        var headers = new Metadata()
            .Add("x-ascii", "plain value")
            .Add("x-data-bin", new byte[] { 0, 1, 2, 0xFF }); // 4 bytes: base64 needs padding, we send none
        using var call = _channel.UnaryCall(M.Metadata, new StringValue(), M.Guard() with { Headers = headers });

        StringValue echoed = await call;
        Assert.Equal("x-ascii=plain value\nx-data-bin=000102ff", echoed.Value);

        Metadata responseHeaders = await call.ResponseHeadersAsync;
        Assert.Equal("header-value", responseHeaders.GetValue("x-header"));
        Assert.Equal(new byte[] { 0, 1, 0xFE, 0xFF }, responseHeaders.GetValueBytes("x-header-bin"));
        Metadata trailers = call.GetTrailers();
        Assert.Equal("trailer-value", trailers.GetValue("x-trailer"));
        Assert.Equal(new byte[] { 0xFF, 0, 0x7F }, trailers.GetValueBytes("x-trailer-bin"));
        Assert.DoesNotContain(trailers, e => e.Key.StartsWith("grpc-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnknownMethod_IsUnimplemented()
    {
        using var call = _channel.UnaryCall(M.Missing, new StringValue(), M.Guard());
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
    }

    [Fact]
    public async Task ReceiveLimit_FailsOnlyTheOversizedCall()
    {
        using var channel = GrpcChannel.ForAddress(peer.Address, new GrpcChannelOptions { MaxReceiveMessageSize = 1024 });

        using var big = channel.UnaryCall(M.Big, new Int32Value { Value = 4000 }, M.Guard());
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => big.ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);

        BytesValue small = await channel.UnaryCall(M.Big, new Int32Value { Value = 1000 }, M.Guard());
        Assert.Equal(1000, small.Value.Length);
    }

    [Fact]
    public async Task SendLimit_FailsTheCallWithoutSending()
    {
        using var channel = GrpcChannel.ForAddress(peer.Address, new GrpcChannelOptions { MaxSendMessageSize = 64 });

        using var unary = channel.UnaryCall(M.Echo, new StringValue { Value = new string('a', 100) }, M.Guard());
        Assert.Equal(StatusCode.ResourceExhausted, (await Assert.ThrowsAsync<RpcException>(() => unary.ResponseAsync)).StatusCode);

        using var duplex = channel.DuplexStreamingCall(M.Chat, M.Guard());
        await duplex.RequestStream.WriteAsync(new StringValue { Value = "small" });
        Assert.True(await duplex.ResponseStream.MoveNext());
        RpcException writeEx = await Assert.ThrowsAsync<RpcException>(
            () => duplex.RequestStream.WriteAsync(new StringValue { Value = new string('b', 100) }));
        Assert.Equal(StatusCode.ResourceExhausted, writeEx.StatusCode);
        RpcException readEx = await Assert.ThrowsAsync<RpcException>(() => duplex.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.ResourceExhausted, readEx.StatusCode);

        Assert.Equal("ok", (await channel.UnaryCall(M.Echo, new StringValue { Value = "ok" }, M.Guard())).Value);
    }
}
