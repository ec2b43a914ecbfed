namespace CausalTap.Grpc;

/// <summary>The outcome of a call: a code plus a human-readable detail (sent percent-encoded in grpc-message).</summary>
public readonly record struct Status(StatusCode StatusCode, string Detail)
{
    /// <summary>The status of a call that completed normally.</summary>
    public static readonly Status DefaultSuccess = new(StatusCode.OK, "");

    /// <summary>The status of a call cancelled by the peer.</summary>
    public static readonly Status DefaultCancelled = new(StatusCode.Cancelled, "");

    public override string ToString() => $"Status(StatusCode=\"{StatusCode}\", Detail=\"{Detail}\")";
}
