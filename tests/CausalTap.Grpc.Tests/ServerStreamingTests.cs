using CausalTap.Grpc.Server;
using Google.Protobuf.WellKnownTypes;

namespace CausalTap.Grpc.Tests;

/// <summary>Server-streaming, client-streaming and duplex calls, plus cancellation, on the wire.</summary>
public class ServerStreamingTests
{
    private static readonly Method<Int32Value, Int32Value> Count = new(MethodType.ServerStreaming, "test.Stream", "Count");
    private static readonly Method<Int32Value, Int32Value> Sum = new(MethodType.ClientStreaming, "test.Stream", "Sum");
    private static readonly Method<StringValue, StringValue> Chat = new(MethodType.DuplexStreaming, "test.Stream", "Chat");

    [Fact]
    public async Task Server_streaming_flushes_each_message_as_it_is_written()
    {
        // The handler sends message i+1 only after the test has read message i: without a flush per
        // message the test would never see message i and the call would time out.
        var readByClient = new SemaphoreSlim(0);
        await using var h = await ServerTestHarness.StartAsync(r => r.AddServerStreaming(Count, async (req, stream, ctx) =>
        {
            for (int i = 1; i <= req.Value; i++)
            {
                await stream.WriteAsync(new Int32Value { Value = i });
                if (i < req.Value) Assert.True(await readByClient.WaitAsync(ServerTestHarness.Timeout, ctx.CancellationToken));
            }
        }));

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Count.FullName, new Int32Value { Value = 3 }));
        Stream body = await response.Content.ReadAsStreamAsync();
        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal(i, (await ServerTestHarness.ReadMessageAsync(body, Int32Value.Parser))!.Value);
            readByClient.Release();
        }
        Assert.Null(await ServerTestHarness.ReadMessageAsync(body, Int32Value.Parser));
        Assert.Equal("0", GrpcResult<Int32Value>.Header(response.TrailingHeaders, "grpc-status"));
    }

    [Fact]
    public async Task Client_streaming_reads_every_message_until_half_close()
    {
        await using var h = await ServerTestHarness.StartAsync(r => r.AddClientStreaming(Sum, async (requests, ctx) =>
        {
            int sum = 0, n = 0;
            await foreach (Int32Value v in requests.ReadAllAsync()) { sum += v.Value; n++; }
            Assert.False(await requests.MoveNext()); // stays at the end
            return new Int32Value { Value = sum * 1000 + n };
        }));

        var content = new StreamingRequestContent();
        Task<HttpResponseMessage> send = h.SendAsync(ServerTestHarness.CreateRequest(Sum.FullName, content));
        for (int i = 1; i <= 10; i++) content.Write(new Int32Value { Value = i });
        content.Complete();
        using var response = await send.WaitAsync(ServerTestHarness.Timeout);
        var result = await ServerTestHarness.ReadToEndAsync(response, Int32Value.Parser);

        Assert.Equal(55 * 1000 + 10, Assert.Single(result.Messages).Value);
        Assert.Equal(StatusCode.OK, result.StatusCode);
    }

    [Fact]
    public async Task Duplex_echoes_each_message_before_the_next_is_sent()
    {
        await using var h = await ServerTestHarness.StartAsync(r => r.AddDuplexStreaming(Chat, async (requests, responses, ctx) =>
        {
            while (await requests.MoveNext()) await responses.WriteAsync(new StringValue { Value = "echo:" + requests.Current.Value });
        }));

        var content = new StreamingRequestContent();
        Task<HttpResponseMessage> send = h.SendAsync(ServerTestHarness.CreateRequest(Chat.FullName, content));
        content.Write(new StringValue { Value = "a" });
        using var response = await send.WaitAsync(ServerTestHarness.Timeout); // headers come with the first echo
        Stream body = await response.Content.ReadAsStreamAsync();
        Assert.Equal("echo:a", (await ServerTestHarness.ReadMessageAsync(body, StringValue.Parser))!.Value);
        content.Write(new StringValue { Value = "b" });
        Assert.Equal("echo:b", (await ServerTestHarness.ReadMessageAsync(body, StringValue.Parser))!.Value);
        content.Complete();
        Assert.Null(await ServerTestHarness.ReadMessageAsync(body, StringValue.Parser));
        Assert.Equal("0", GrpcResult<StringValue>.Header(response.TrailingHeaders, "grpc-status"));
    }

    [Fact]
    public async Task Write_after_the_call_completed_throws()
    {
        var captured = new TaskCompletionSource<IServerStreamWriter<Int32Value>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await ServerTestHarness.StartAsync(r => r.AddServerStreaming(Count, async (req, stream, ctx) =>
        {
            await stream.WriteAsync(new Int32Value { Value = 1 });
            captured.SetResult(stream);
        }));

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Count.FullName, new Int32Value { Value = 1 }));
        var result = await ServerTestHarness.ReadToEndAsync(response, Int32Value.Parser);
        Assert.Equal(StatusCode.OK, result.StatusCode);

        IServerStreamWriter<Int32Value> writer = await captured.Task.WaitAsync(ServerTestHarness.Timeout);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.WriteAsync(new Int32Value { Value = 2 }));
        Assert.Contains("complete", ex.Message);
    }

    [Fact]
    public async Task Client_abort_cancels_the_handler_token()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await ServerTestHarness.StartAsync(r => r.AddServerStreaming(Count, async (req, stream, ctx) =>
        {
            ctx.CancellationToken.Register(() => cancelled.TrySetResult());
            started.SetResult();
            await Task.Delay(System.Threading.Timeout.Infinite, ctx.CancellationToken);
        }));

        using var cts = new CancellationTokenSource();
        Task<HttpResponseMessage> send = h.SendAsync(ServerTestHarness.CreateRequest(Count.FullName, new Int32Value { Value = 1 }), cts.Token);
        await started.Task.WaitAsync(ServerTestHarness.Timeout);
        Assert.False(cancelled.Task.IsCompleted);

        cts.Cancel(); // HttpClient resets the stream (RST_STREAM CANCEL)
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        await cancelled.Task.WaitAsync(ServerTestHarness.Timeout);
    }

    [Fact]
    public async Task Request_stream_read_honours_the_handlers_own_token()
    {
        await using var h = await ServerTestHarness.StartAsync(r => r.AddClientStreaming(Sum, async (requests, ctx) =>
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            try
            {
                await requests.MoveNext(cts.Token); // the client sends nothing
                return new Int32Value { Value = 1 };
            }
            catch (OperationCanceledException)
            {
                return new Int32Value { Value = -1 };
            }
        }));

        var content = new StreamingRequestContent();
        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Sum.FullName, content)).WaitAsync(ServerTestHarness.Timeout);
        var result = await ServerTestHarness.ReadToEndAsync(response, Int32Value.Parser);
        content.Complete();

        Assert.Equal(-1, Assert.Single(result.Messages).Value);
        Assert.Equal(StatusCode.OK, result.StatusCode);
    }
}
