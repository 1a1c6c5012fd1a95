using System.Security.Cryptography;
using System.Text;
using Capacity.Storage;
using Capacity.Storage.Postgres;
using Capacity.Storage.Sqlite;

namespace Capacity.Engine.Tests;

/// <summary>
/// Every released migration of both stores, pinned by its SHA-256. A database records only a script's
/// version, so an edit reaches only the databases that have not run it yet: four edits (007, 009, 010,
/// 017) left older databases without a column every sale-rules write needs, and 018 had to repair them.
/// </summary>
public sealed class MigrationHashTests
{
    // SHA-256 of each script's text with line endings as \n. A new migration is added here once, when it is written.
    private static readonly Dictionary<string, string> Pinned = new()
    {
        ["Sqlite/001_initial.sql"] = "79e76542143cb0e5f8dcddf3863f082e02c21f645e03ea6fb86a27df86a150e4",
        ["Sqlite/002_audit_indexes.sql"] = "e698184e0a0d5d24ed83347ecf9f1dc5877bf9ef2d57a487878a93fe76ec8bec",
        ["Sqlite/003_ledger_chunks.sql"] = "1a4d177c0abe20213490e348a37bad315d8a2556b404519fee0f16793d447adf",
        ["Sqlite/004_due_order.sql"] = "4884effd5684367cbc7e668bfdd59409539c92f4d02349a7dbb7b0e3103dfd87",
        ["Sqlite/005_allocations.sql"] = "9dacdf03b6110828a84eb3d30dbcb28ba23574f8c63efc9a4f8f2d86484dbf03",
        ["Sqlite/006_buyer_limits.sql"] = "715a6ee61077eec6480f89db552729b027098d442d8385554f2c0c2609930a49",
        ["Sqlite/007_waitlists.sql"] = "b1126169f3ba9c4931c4a0b4dd16ee595aa7162df43c2f21196b55616b9fd3b8",
        ["Sqlite/008_reservation_labels.sql"] = "76f993adaef0b35d5e128a171a7f390c10951d9c29bbfaa13f215fb9e27536cc",
        ["Sqlite/009_sale_rules.sql"] = "ce2a7a060a1fbc4ae713b7a11088fe911b1b1361e0d1e3d0377602b70bced42e",
        ["Sqlite/010_webhooks.sql"] = "11063df1f0825536cb8b6295d24d9eafaeaacb9e307ba916b92439b8f86d6542",
        ["Sqlite/011_keys.sql"] = "34438eef7789ed48a3cde076a8118a5828d9e1b4bc5cdf57903a70df2327f0c6",
        ["Sqlite/012_sales_stats.sql"] = "53c6f2104b0ed5be51b50762f9512e4447298f2928fc49b28a7c217aa5c72d18",
        ["Sqlite/013_event_live_holds.sql"] = "64316762d6fd3316399c27ec8bdd4d82fa54ed75f12ca74a475d3405f876fdd9",
        ["Sqlite/014_ledger_per_event.sql"] = "ae8d61d532e3c937b682bbea3337469aeeec93a583f50b3eb29f144726fa551f",
        ["Sqlite/015_buyer_usage_log.sql"] = "37d3fc1e2ad9d0cd195fcabe32f5dac08421cdd748f06479c23e9a807b33cc03",
        ["Sqlite/017_reservations_by_status.sql"] = "ef46de75a4111c694e0201e4f071f7afb5a0104c28b1d02d6870e1bcead96e42",
        ["Sqlite/018_repair_earlier_edits.sql"] = "b795eb4ed82266181148bd676d214da5dcc8869e76d95994003a0def2386fd6e",
        ["Sqlite/019_waiting_units_in_usage.sql"] = "3048e95eb5ae195ce8fa3845cf20ef92196db894ed62830de6a86774de5c5ccb",
        ["Sqlite/020_lapsed_reason.sql"] = "2961d6397fb79c738305f29f5c21ead45dbfb114923e317808f9769e2e96579a",
        ["Sqlite/021_queue_share.sql"] = "71f336fbb929e6bebb951ff211ab7546552a98de66a823eb63dd23ce8843217b",
        ["Sqlite/022_queue_levels.sql"] = "6dcff18d1cd26dda698475a73aa7a23a3a73b900d4c0878d672f64cbbe2a7bed",
        ["Postgres/001_initial.sql"] = "f2adf7518f3b1c3b67f343187c4246df3ccd007d11d2567a6293ab4735abc403",
        ["Postgres/002_audit_indexes.sql"] = "e698184e0a0d5d24ed83347ecf9f1dc5877bf9ef2d57a487878a93fe76ec8bec",
        ["Postgres/003_ledger_chunks.sql"] = "498a0227c6c47e124b3cd9fc96245233aaa934816bd386e39f648b494c788b2e",
        ["Postgres/004_due_order.sql"] = "4884effd5684367cbc7e668bfdd59409539c92f4d02349a7dbb7b0e3103dfd87",
        ["Postgres/005_allocations.sql"] = "efce7313d9b1035405e73e04a0b373bf569ca094409b3e982abb3202f05680b8",
        ["Postgres/006_buyer_limits.sql"] = "57de6b42a8056bdc74ebdcd2863d0f10c6233d411dc46f55edf87b39de5b95ee",
        ["Postgres/007_waitlists.sql"] = "dccaf5ecdfa9f267ee328f7962624a067348c5aaa1394014276c759f0ed18b98",
        ["Postgres/008_reservation_labels.sql"] = "d99378d441ee8634b3b2709a7c01504ba9ae3e7a7fee57c883afcd5125799114",
        ["Postgres/009_sale_rules.sql"] = "78186329665c9b7e735956aa977d765a6afd61cecf30d9b62c1af0c74e8d970e",
        ["Postgres/010_webhooks.sql"] = "621164886cb83ffb4ff80388695070c7183e80a9c588ca17b84c0b9474da2d76",
        ["Postgres/011_keys.sql"] = "444c6183dcda7c9523605b12ab12cf383bc90798d8bcccfed375ec7004eec540",
        ["Postgres/012_sales_stats.sql"] = "caf1286332aeeafc79a85c2d088274076bb118254a5ccea805770c4be1a5a571",
        ["Postgres/013_event_live_holds.sql"] = "64316762d6fd3316399c27ec8bdd4d82fa54ed75f12ca74a475d3405f876fdd9",
        ["Postgres/014_ledger_per_event.sql"] = "71b8ce3b6df19c878e11578e6a50086db267d95fefadb8c6bacd0663de7a2822",
        ["Postgres/015_buyer_usage_log.sql"] = "cda27aff829731cacf368b777bfd58b85f7f9c15093c7adcb4bcb020c0485114",
        ["Postgres/016_usage_log_order.sql"] = "64650bae697870b268aa2c9133b93b2170520255a46f556e898215609864e819",
        ["Postgres/017_reservations_by_status.sql"] = "5a703c8dad3e80c1385a179f79a2f52fe6eedd706f1af3cb41b4708a65500d96",
        ["Postgres/018_repair_earlier_edits.sql"] = "c45ad3e9eb16a4329e587c91582ed6bcd0fe493d70e1cb48a05d1e4845551968",
        ["Postgres/019_waiting_units_in_usage.sql"] = "34d10a0fb8547070cf932382103550eca24afb0e80459df4c936749208ef36df",
        ["Postgres/020_lapsed_reason.sql"] = "328d7523c8421c14839cb34e4edfcd11766ece1c0bf5b0f12ea105fc7c522d8a",
        ["Postgres/021_queue_share.sql"] = "7f20fed1371a0c8dce885de162849e0925f4266795d52880e3a7deeeb4c4cabe",
        ["Postgres/022_queue_levels.sql"] = "fad336a6cebfea29a082cc08a37636ef638c82e0911bb281d9099d02e2aca0fc",
    };

    [Fact]
    public void Released_migrations_are_never_edited_and_every_migration_is_pinned()
    {
        var found = new Dictionary<string, string>();
        foreach (var (store, assembly) in new[] { ("Sqlite", typeof(SqliteStore).Assembly), ("Postgres", typeof(PostgresStore).Assembly) })
        {
            foreach (var (_, name, sql) in MigrationScripts.Load(assembly))
            {
                found[$"{store}/{name}.sql"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql.Replace("\r\n", "\n", StringComparison.Ordinal))));
            }
        }

        var problems = new List<string>();
        foreach (var (script, hash) in found)
        {
            if (!Pinned.TryGetValue(script, out var pinned))
            {
                problems.Add($"{script} is not pinned: add [\"{script}\"] = \"{hash}\" to MigrationHashTests once it is final.");
            }
            else if (pinned != hash)
            {
                problems.Add(
                    $"{script} has changed (SHA-256 {hash}, pinned {pinned}). Released migrations are never edited: a database "
                    + "that already ran it would never get the change. Undo the edit and add a new migration that makes it.");
            }
        }

        problems.AddRange(Pinned.Keys.Except(found.Keys).Select(s => $"{s} is pinned but gone: a released migration is never removed or renamed."));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
