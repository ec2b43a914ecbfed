using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CausalTap.Grpc.Server;

/// <summary>Maps a <see cref="GrpcServiceRegistry"/> onto ASP.NET Core endpoint routing.</summary>
public static class GrpcEndpointRouteBuilderExtensions
{
    /// <summary>Logger category of all server logs.</summary>
    public const string LoggerCategory = "CausalTap.Grpc.Server";

    /// <summary>
    /// Maps every registered method to its exact path ("/{service}/{method}") plus a catch-all that answers
    /// UNIMPLEMENTED for unknown gRPC paths. The returned builder applies conventions to all of them.
    /// </summary>
    public static IEndpointConventionBuilder MapGrpcServices(this IEndpointRouteBuilder endpoints,
        GrpcServiceRegistry registry, GrpcServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(registry);
        options ??= new GrpcServerOptions();
        ILogger logger = endpoints.ServiceProvider.GetService<ILoggerFactory>()?.CreateLogger(LoggerCategory)
            ?? NullLogger.Instance;

        var builders = new List<IEndpointConventionBuilder>();
        foreach (ServerMethodDefinition method in registry.Methods)
        {
            ServerCallHandler handler = method.CreateHandler(options, logger);
            // Any HTTP method routes here, so a GET gets a clear 405 from the handler instead of UNIMPLEMENTED.
            builders.Add(endpoints.Map(method.Path, handler.HandleCallAsync).WithDisplayName($"gRPC - {method.Path}"));
        }
        // Lowest route precedence: explicit routes (ours or the host's) always win over it.
        var unimplemented = new UnimplementedCallHandler(logger);
        builders.Add(endpoints.Map("{**grpcUnimplementedPath}", unimplemented.HandleCallAsync).WithDisplayName("gRPC - Unimplemented"));
        return new CompositeEndpointConventionBuilder(builders);
    }

    /// <summary>Forwards conventions to the builders of every endpoint that one MapGrpcServices call created.</summary>
    private sealed class CompositeEndpointConventionBuilder : IEndpointConventionBuilder
    {
        /// <summary>One builder per mapped endpoint.</summary>
        private readonly List<IEndpointConventionBuilder> _builders;

        public CompositeEndpointConventionBuilder(List<IEndpointConventionBuilder> builders) => _builders = builders;

        public void Add(Action<EndpointBuilder> convention)
        {
            foreach (IEndpointConventionBuilder builder in _builders) builder.Add(convention);
        }

        public void Finally(Action<EndpointBuilder> finallyConvention)
        {
            foreach (IEndpointConventionBuilder builder in _builders) builder.Finally(finallyConvention);
        }
    }
}
