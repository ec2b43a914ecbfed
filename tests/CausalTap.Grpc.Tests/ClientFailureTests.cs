using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CausalTap.Grpc.Client;
using Google.Protobuf.WellKnownTypes;
using M = CausalTap.Grpc.Tests.ClientEchoMethods;

namespace CausalTap.Grpc.Tests;

/// <summary>Deadlines, cancellation and transport failures; the Python peer reports what it saw.</summary>
[Collection(ClientPeerCollection.Name)]
public class ClientFailureTests(ClientPeerFixture peer)
{
    private readonly GrpcChannel _channel = peer.Channel;

    [Fact]
    public async Task Deadline_FailsAtTheDeadline_NotAfterTheHandlerSleeps()
    {
        var watch = Stopwatch.StartNew();
        using var call = _channel.UnaryCall(M.Sleep, new Int32Value { Value = 5000 },
            new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(300)));

        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Deadline_ClientTimerFires_WhenThePeerNeverAnswers()
    {
        // A TCP peer that accepts and stays silent: only the client's own timer can end this call.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        Task<Socket> accepted = silent.AcceptSocketAsync();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}");

        var watch = Stopwatch.StartNew();
        using var call = channel.UnaryCall(M.Echo, new StringValue(), new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(300)));
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
        Assert.Equal(StatusCode.DeadlineExceeded, (await Assert.ThrowsAsync<RpcException>(() => call.ResponseHeadersAsync)).StatusCode);
        (await accepted).Dispose();
    }

    [Fact]
    public async Task PastDeadline_FailsWithoutContactingTheServer()
    {
        using var call = _channel.UnaryCall(M.Echo, new StringValue(), new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(-1)));
        Assert.Equal(StatusCode.DeadlineExceeded, (await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync)).StatusCode);
    }

    [Fact]
    public async Task CancelToken_MidStream_EndsCancelled_AndTheServerSeesIt()
    {
        string token = Guid.NewGuid().ToString("N");
        using var cts = new CancellationTokenSource();
        using var call = _channel.ServerStreamingCall(M.Ticker, new StringValue { Value = token }, M.Guard(cts.Token));
        for (int i = 0; i < 3; i++) Assert.True(await call.ResponseStream.MoveNext());

        cts.Cancel();
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());

        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
        Assert.Equal("cancelled", (await _channel.UnaryCall(M.WasCancelled, new StringValue { Value = token }, M.Guard())).Value);
    }

    [Fact]
    public async Task CancelToken_WhileWaitingForHeaders_EndsCancelledPromptly()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var watch = Stopwatch.StartNew();
        using var call = _channel.UnaryCall(M.Sleep, new Int32Value { Value = 5000 }, M.Guard(cts.Token));

        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Dispose_RunningDuplex_ResetsTheStream()
    {
        string token = Guid.NewGuid().ToString("N");
        var call = _channel.DuplexStreamingCall(M.Chat, M.Guard());
        await call.RequestStream.WriteAsync(new StringValue { Value = "token:" + token });
        Assert.True(await call.ResponseStream.MoveNext());

        call.Dispose();

        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext())).StatusCode);
        await Assert.ThrowsAsync<RpcException>(() => call.RequestStream.WriteAsync(new StringValue { Value = "late" }));
        Assert.Equal("cancelled", (await _channel.UnaryCall(M.WasCancelled, new StringValue { Value = token }, M.Guard())).Value);
    }

    [Fact]
    public async Task Writer_RejectsAConcurrentWrite()
    {
        // A silent peer never opens its flow-control window, so a large first write stays pending.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}");
        using var call = channel.DuplexStreamingCall(M.Chat, M.Guard());

        Task first = call.RequestStream.WriteAsync(new StringValue { Value = new string('x', 1 << 20) });
        await Assert.ThrowsAsync<InvalidOperationException>(() => call.RequestStream.WriteAsync(new StringValue { Value = "second" }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => call.RequestStream.CompleteAsync());

        call.Dispose();
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => first)).StatusCode);
    }

    [Fact]
    public async Task ChannelDispose_CancelsRunningCalls()
    {
        string token = Guid.NewGuid().ToString("N");
        var channel = GrpcChannel.ForAddress(peer.Address);
        using var call = channel.ServerStreamingCall(M.Ticker, new StringValue { Value = token }, M.Guard());
        Assert.True(await call.ResponseStream.MoveNext());

        channel.Dispose();

        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext())).StatusCode);
        Assert.Equal("cancelled", (await _channel.UnaryCall(M.WasCancelled, new StringValue { Value = token }, M.Guard())).Value);
        using var late = channel.UnaryCall(M.Echo, new StringValue(), M.Guard());
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => late.ResponseAsync)).StatusCode);
    }

    [Fact]
    public async Task ConnectionRefused_IsUnavailable_WithTheSocketError()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop(); // nothing listens there now

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        using var call = channel.UnaryCall(M.Echo, new StringValue(), M.Guard());
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("refused", ex.Status.Detail, StringComparison.OrdinalIgnoreCase);
    }
}
