using CausalTap.Grpc;
using Grpc.Testing;

namespace CausalTap.Interop.Tests;

/// <summary>
/// Method descriptors of grpc.testing.TestService and grpc.testing.UnimplementedService
/// (/usr/share/grpc-proto/grpc/testing/test.proto), for our own server and client.
/// </summary>
public static class TestServiceMethods
{
    public const string ServiceName = "grpc.testing.TestService";
    public const string UnimplementedServiceName = "grpc.testing.UnimplementedService";

    public static readonly Method<Empty, Empty> EmptyCall = new(MethodType.Unary, ServiceName, "EmptyCall");

    public static readonly Method<SimpleRequest, SimpleResponse> UnaryCall = new(MethodType.Unary, ServiceName, "UnaryCall");

    public static readonly Method<StreamingOutputCallRequest, StreamingOutputCallResponse> StreamingOutputCall =
        new(MethodType.ServerStreaming, ServiceName, "StreamingOutputCall");

    public static readonly Method<StreamingInputCallRequest, StreamingInputCallResponse> StreamingInputCall =
        new(MethodType.ClientStreaming, ServiceName, "StreamingInputCall");

    public static readonly Method<StreamingOutputCallRequest, StreamingOutputCallResponse> FullDuplexCall =
        new(MethodType.DuplexStreaming, ServiceName, "FullDuplexCall");

    public static readonly Method<StreamingOutputCallRequest, StreamingOutputCallResponse> HalfDuplexCall =
        new(MethodType.DuplexStreaming, ServiceName, "HalfDuplexCall");

    /// <summary>Declared by the service but never implemented by a test server: must answer UNIMPLEMENTED.</summary>
    public static readonly Method<Empty, Empty> UnimplementedCall = new(MethodType.Unary, ServiceName, "UnimplementedCall");

    /// <summary>A service no server implements: must answer UNIMPLEMENTED.</summary>
    public static readonly Method<Empty, Empty> UnimplementedServiceCall =
        new(MethodType.Unary, UnimplementedServiceName, "UnimplementedCall");
}
