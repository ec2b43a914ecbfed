using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace CausalTap.Grpc.Internal;

/// <summary>
/// gRPC length-prefixed message framing: 1 byte compressed-flag, 4 bytes big-endian length, then the message.
/// Knows nothing about HTTP; both the server (request body) and the client (response body) use it.
/// </summary>
public static class MessageFraming
{
    /// <summary>Size of the prefix in front of every message.</summary>
    public const int HeaderSize = 5;

    /// <summary>Writes one uncompressed message to <paramref name="writer"/> (not flushed).</summary>
    /// <exception cref="RpcException">ResourceExhausted when the message is larger than <paramref name="maxSize"/>.</exception>
    public static void WriteMessage(PipeWriter writer, IMessage message, int maxSize)
    {
        int size = message.CalculateSize();
        if (size > maxSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted,
                $"Sending message exceeds the maximum configured message size ({size} > {maxSize} bytes).");
        }
        Span<byte> span = writer.GetSpan(HeaderSize + size);
        span[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(span.Slice(1, 4), (uint)size);
        message.WriteTo(span.Slice(HeaderSize, size));
        writer.Advance(HeaderSize + size);
    }

    /// <summary>
    /// Takes one complete message off the front of <paramref name="buffer"/> if it is all there.
    /// </summary>
    /// <exception cref="RpcException">ResourceExhausted for a declared length over <paramref name="maxSize"/>;
    /// Internal for a compressed message (no compression is negotiated by this implementation).</exception>
    public static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, int maxSize, out ReadOnlySequence<byte> payload)
    {
        payload = default;
        if (buffer.Length < HeaderSize) return false;

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header.Slice(1));
        if (length > (uint)maxSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted,
                $"Received message exceeds the maximum configured message size ({length} > {maxSize} bytes).");
        }
        if (header[0] == 1)
        {
            throw new RpcException(StatusCode.Internal,
                "Received a compressed message but no grpc-encoding was negotiated (compression is not supported).");
        }
        if (header[0] != 0)
        {
            throw new RpcException(StatusCode.Internal, $"Invalid message flag byte {header[0]}.");
        }
        if (buffer.Length < HeaderSize + length) return false;

        payload = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(HeaderSize + length);
        return true;
    }

    /// <summary>
    /// Reads and parses the next message, or returns null at a clean end of stream.
    /// </summary>
    /// <exception cref="RpcException">Internal when the stream ends inside a message or the bytes do not parse.</exception>
    public static async ValueTask<T?> ReadMessageAsync<T>(PipeReader reader, MessageParser<T> parser, int maxSize,
        CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                if (TryReadMessage(ref buffer, maxSize, out ReadOnlySequence<byte> payload))
                {
                    T message;
                    try
                    {
                        message = parser.ParseFrom(payload);
                    }
                    catch (InvalidProtocolBufferException ex)
                    {
                        throw new RpcException(StatusCode.Internal, $"Failed to deserialize message: {ex.Message}");
                    }
                    reader.AdvanceTo(buffer.Start);
                    return message;
                }
                if (result.IsCanceled)
                {
                    // CancelPendingRead is not the peer ending its stream: never report it as a clean end.
                    throw new OperationCanceledException("The message read was cancelled.");
                }
                if (result.IsCompleted)
                {
                    if (buffer.Length == 0) return null;
                    throw new RpcException(StatusCode.Internal,
                        $"Incomplete message: the stream ended with {buffer.Length} unread bytes.");
                }
                // Not enough data yet: consume nothing, mark everything examined, wait for more.
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
            catch
            {
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw;
            }
        }
    }
}
