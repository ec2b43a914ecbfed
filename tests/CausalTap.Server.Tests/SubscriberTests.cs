using CausalTap.Protocol.V1;
using Google.Protobuf.Reflection;

namespace CausalTap.Server.Tests;

/// <summary>The latest-wins queue of one subscriber, without a server.</summary>
public sealed class SubscriberTests
{
    private static TrackUpdate Update(long frame) => new()
    {
        SessionId = "s",
        FrameIndex = frame,
        Sequence = (ulong)frame,
        Points = { new PointState { Id = 1, X = frame, Y = 2, Visible = true } },
    };

    [Fact]
    public async Task After_a_skip_every_update_carries_the_count_without_changing_the_shared_update_or_cloning_it()
    {
        var subscriber = new Subscriber(capacity: 2, wantsRejections: false);
        TrackUpdate[] published = Enumerable.Range(0, 5).Select(i => Update(i)).ToArray();
        foreach (TrackUpdate u in published) subscriber.Offer(new SessionEvent(u, null)); // 3 dropped: 0, 1, 2
        subscriber.Complete();

        var seen = new List<(long Frame, ulong Skipped, float X, TrackUpdate Instance)>();
        await foreach (SessionEvent e in subscriber.ReadAllAsync(CancellationToken.None))
        {
            seen.Add((e.Update!.FrameIndex, e.Update.UpdatesSkipped, e.Update.Points[0].X, e.Update));
        }

        Assert.Equal([(3L, 3UL, 3f), (4L, 3UL, 4f)], seen.Select(s => (s.Frame, s.Skipped, s.X)));
        Assert.All(published, u => Assert.Equal(0UL, u.UpdatesSkipped)); // other subscribers see the original
        Assert.Same(seen[0].Instance, seen[1].Instance);                  // one reusable copy, not a clone each
        Assert.DoesNotContain(seen, s => published.Contains(s.Instance));
        Assert.Same(published[4].Points[0], seen[1].Instance.Points[0]);  // points shared, not cloned
    }

    [Fact]
    public void CopyShallow_covers_every_field_of_TrackUpdate()
    {
        // Set every field to a non-default value through the descriptor, so a field added to the proto later
        // and forgotten in CopyShallow fails here.
        var from = new TrackUpdate();
        foreach (FieldDescriptor field in TrackUpdate.Descriptor.Fields.InFieldNumberOrder())
        {
            if (field.IsRepeated)
            {
                from.Points.Add(new PointState { Id = 7, X = 1.5f, Y = 2.5f, Visible = true, OcclusionProbability = 0.25f, Uncertainty = 0.5f });
                continue;
            }
            object value = field.FieldType switch
            {
                FieldType.String => "session",
                FieldType.Int64 => (long)field.FieldNumber * 1000,
                FieldType.UInt64 => (ulong)field.FieldNumber * 1000,
                FieldType.UInt32 => (uint)field.FieldNumber * 10,
                FieldType.Double => field.FieldNumber + 0.5,
                FieldType.Float => field.FieldNumber + 0.5f,
                FieldType.Bool => true,
                _ => throw new InvalidOperationException($"TrackUpdate.{field.Name} has type {field.FieldType}: teach this test and CopyShallow about it"),
            };
            field.Accessor.SetValue(from, value);
        }
        var to = new TrackUpdate { Points = { new PointState { Id = 99 } } };
        Subscriber.CopyShallow(from, to);
        Assert.Equal(from, to);
    }
}
