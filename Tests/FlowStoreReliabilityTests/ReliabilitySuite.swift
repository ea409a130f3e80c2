import Testing

/// Issue 6: crashes, concurrent writers, corruption, hostile input, auth and load.
///
/// Serialized: these tests start processes, servers and dozens of threads, and measure
/// memory; run side by side on two cores they would only slow each other into timeouts.
/// CI runs are bounded (well under two minutes together); `FLOWSTORE_SOAK=1` runs longer
/// (spec/SECURITY.md; scripts/reliability/soak.sh for the long run).
@Suite("Reliability", .serialized)
struct ReliabilitySuite {}
