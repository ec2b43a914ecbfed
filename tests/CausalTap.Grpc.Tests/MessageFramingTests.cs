using System.Buffers;
using System.IO.Pipelines;
using CausalTap.Grpc.Internal;
using Google.Protobuf.WellKnownTypes;

namespace CausalTap.Grpc.Tests;

public class MessageFramingTests
{
    [Fact]
    public async Task Written_messages_read_back_in_order_then_end_of_stream()
    {
        var pipe = new Pipe();
        MessageFraming.WriteMessage(pipe.Writer, new StringValue { Value = "a" }, 1024);
        MessageFraming.WriteMessage(pipe.Writer, new StringValue { Value = "" }, 1024);
        MessageFraming.WriteMessage(pipe.Writer, new StringValue { Value = new string('x', 300) }, 1024);
        await pipe.Writer.CompleteAsync();

        var parser = StringValue.Parser;
        Assert.Equal("a", (await MessageFraming.ReadMessageAsync(pipe.Reader, parser, 1024, default))!.Value);
        Assert.Equal("", (await MessageFraming.ReadMessageAsync(pipe.Reader, parser, 1024, default))!.Value);
        Assert.Equal(300, (await MessageFraming.ReadMessageAsync(pipe.Reader, parser, 1024, default))!.Value.Length);
        Assert.Null(await MessageFraming.ReadMessageAsync(pipe.Reader, parser, 1024, default));
    }

    [Fact]
    public async Task A_message_split_across_reads_is_reassembled()
    {
        var pipe = new Pipe();
        byte[] frame = Frame(new StringValue { Value = "split me" });
        Task<StringValue?> read = MessageFraming.ReadMessageAsync(pipe.Reader, StringValue.Parser, 1024, default).AsTask();
        foreach (byte b in frame)
        {
            await pipe.Writer.WriteAsync(new[] { b });
        }
        Assert.Equal("split me", (await read)!.Value);
    }

    [Fact]
    public void Prefix_is_flag_then_big_endian_length()
    {
        byte[] frame = Frame(new BytesValue { Value = Google.Protobuf.ByteString.CopyFrom(new byte[300]) });
        int size = new BytesValue { Value = Google.Protobuf.ByteString.CopyFrom(new byte[300]) }.CalculateSize();
        Assert.Equal(0, frame[0]);
        Assert.Equal(size, (frame[1] << 24) | (frame[2] << 16) | (frame[3] << 8) | frame[4]);
        Assert.Equal(MessageFraming.HeaderSize + size, frame.Length);
    }

    [Fact]
    public void Oversized_messages_are_ResourceExhausted_both_ways()
    {
        var big = new StringValue { Value = new string('x', 100) };
        var sendError = Assert.Throws<RpcException>(() => MessageFraming.WriteMessage(new Pipe().Writer, big, 50));
        Assert.Equal(StatusCode.ResourceExhausted, sendError.StatusCode);

        var buffer = new ReadOnlySequence<byte>(Frame(big));
        var receiveError = Assert.Throws<RpcException>(() => MessageFraming.TryReadMessage(ref buffer, 50, out _));
        Assert.Equal(StatusCode.ResourceExhausted, receiveError.StatusCode);
    }

    [Fact]
    public void Compressed_flag_without_negotiated_encoding_is_Internal()
    {
        byte[] frame = Frame(new StringValue { Value = "z" });
        frame[0] = 1;
        var buffer = new ReadOnlySequence<byte>(frame);
        var error = Assert.Throws<RpcException>(() => MessageFraming.TryReadMessage(ref buffer, 1024, out _));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task Stream_ending_inside_a_message_is_Internal()
    {
        var pipe = new Pipe();
        byte[] frame = Frame(new StringValue { Value = "truncated" });
        await pipe.Writer.WriteAsync(frame.AsMemory(0, frame.Length - 2));
        await pipe.Writer.CompleteAsync();
        var error = await Assert.ThrowsAsync<RpcException>(
            () => MessageFraming.ReadMessageAsync(pipe.Reader, StringValue.Parser, 1024, default).AsTask());
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task Bytes_that_are_not_the_message_type_are_Internal()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0, 0, 0, 0, 2, 0xFF, 0xFF });
        await pipe.Writer.CompleteAsync();
        var error = await Assert.ThrowsAsync<RpcException>(
            () => MessageFraming.ReadMessageAsync(pipe.Reader, StringValue.Parser, 1024, default).AsTask());
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task A_cancelled_pending_read_is_not_an_end_of_stream()
    {
        var pipe = new Pipe();
        ValueTask<StringValue?> read = MessageFraming.ReadMessageAsync(pipe.Reader, StringValue.Parser, 1024, default);
        pipe.Reader.CancelPendingRead();
        await Assert.ThrowsAsync<OperationCanceledException>(() => read.AsTask());
    }

    private static byte[] Frame(Google.Protobuf.IMessage message)
    {
        var pipe = new Pipe();
        MessageFraming.WriteMessage(pipe.Writer, message, int.MaxValue);
        pipe.Writer.FlushAsync().AsTask().Wait();
        pipe.Reader.TryRead(out ReadResult result);
        byte[] bytes = result.Buffer.ToArray();
        pipe.Reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }
}
