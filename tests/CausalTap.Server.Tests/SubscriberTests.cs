using CausalTap.Protocol.V1;
using Google.Protobuf.Reflection;
using static CausalTap.Server.Tests.TestSupport;

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
    public async Task Notices_of_skipped_updates_reach_the_next_update_once()
    {
        var subscriber = new Subscriber(capacity: 1, wantsRejections: false);
        TrackUpdate[] published = Enumerable.Range(0, 4).Select(i => Update(i)).ToArray();
        published[0].Notices.Add(new SessionNotice { Kind = SessionNotice.Types.Kind.FrameRejected, Sequence = 100 });
        published[1].Notices.Add(new SessionNotice { Kind = SessionNotice.Types.Kind.ClockRebased, Sequence = 101 });
        foreach (TrackUpdate u in published.Take(3)) subscriber.Offer(new SessionEvent(u, null)); // 0 and 1 dropped
        var seen = new List<(long Frame, ulong[] Notices)>();
        var reading = Task.Run(async () =>
        {
            await foreach (SessionEvent e in subscriber.ReadAllAsync(CancellationToken.None))
                seen.Add((e.Update!.FrameIndex, e.Update.Notices.Select(n => n.Sequence).ToArray()));
        });
        await WaitUntil(() => Task.FromResult(seen.Count == 1), "the first update");
        subscriber.Offer(new SessionEvent(published[3], null));
        subscriber.Complete();
        await reading;

        Assert.Equal([2L, 3], seen.Select(s => s.Frame));
        Assert.Equal([100ul, 101], seen[0].Notices); // carried over from the skipped updates, in order
        Assert.Empty(seen[1].Notices);               // delivered once
        Assert.Empty(published[2].Notices);          // the shared update is not changed
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
                if (field.FieldNumber == TrackUpdate.PointsFieldNumber)
                    from.Points.Add(new PointState { Id = 7, X = 1.5f, Y = 2.5f, Visible = true, OcclusionProbability = 0.25f, Uncertainty = 0.5f });
                else if (field.FieldNumber == TrackUpdate.NoticesFieldNumber)
                    from.Notices.Add(new SessionNotice { Kind = SessionNotice.Types.Kind.ClockRebased, Message = "stepped", Sequence = 3 });
                else
                    throw new InvalidOperationException($"TrackUpdate.{field.Name} is a new repeated field: teach this test and CopyShallow about it");
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
        var to = new TrackUpdate { Points = { new PointState { Id = 99 } }, Notices = { new SessionNotice { Message = "old" } } };
        Subscriber.CopyShallow(from, to);
        Assert.Equal(from, to);
    }
}
