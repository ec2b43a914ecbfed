using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("CausalTap.Tracking.Tests")]
