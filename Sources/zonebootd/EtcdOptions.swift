import ArgumentParser
import Etcd
import Foundation
import Logging
import NIOSSL
import Server
import Store
import Zone

/// `--etcd`: the zone's revisions in etcd, shared by every host that names the same members
/// and prefix; without it, one host on its SQLite state directory.
struct EtcdOptions: ParsableArguments {
    @Option(help: ArgumentHelp("etcd v3 client URLs, comma-separated (http://10.0.0.1:2379,http://10.0.0.2:2379).",
                               discussion: """
                                   Revisions then live in etcd: `zonectl apply`, history and rollback work against any host, \
                                   and every host follows the zone's head within a second. Discovery addresses come from \
                                   blocks each host claims in etcd, and every lease is recorded there too (readable from \
                                   any host). Hook events go to a shared outbox there: each is delivered by one host, taken \
                                   over by another if that host dies. A request a member fails is tried on the next.
                                   """))
    var etcd: String?

    @Option(help: "Where this zone's keys live in etcd; one prefix per zone.")
    var etcdPrefix = EtcdZoneKeys.defaultPrefix

    @Option(help: ArgumentHelp("Seconds a dead host's claims outlive it in etcd: its discovery blocks and its hook deliveries.",
                               discussion: """
                                   The TTL of this host's one etcd lease, which its discovery blocks and its claimed deliveries \
                                   are attached to (renewed every third of it). A host that dies frees both after this long \
                                   (restarted, it takes its blocks back at once); one that cannot renew its lease for half of \
                                   it stops giving discovery addresses until etcd answers again.
                                   """))
    var etcdLeaseTTL: Int64 = 10

    @Option(help: "The CA (PEM) that signed the etcd members' certificates (https:// URLs; default: the system's trust).")
    var etcdCAFile: String?

    @Option(help: "A client certificate (PEM) for etcd members that require one (with --etcd-key-file).")
    var etcdCertFile: String?

    @Option(help: ArgumentHelp("The client certificate's private key (PEM); mode 0600.",
                               discussion: "A regular file owned by the user running zonebootd (or root)."))
    var etcdKeyFile: String?

    var endpoints: [String] { (etcd ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        if (etcdCertFile == nil) != (etcdKeyFile == nil) {
            throw ValidationError("--etcd-cert-file and --etcd-key-file go together")
        }
        guard etcd != nil else {
            if etcdCAFile != nil || etcdCertFile != nil { throw ValidationError("the --etcd-* TLS options need --etcd") }
            return
        }
        guard !endpoints.isEmpty else { throw ValidationError("--etcd takes one or more URLs, comma-separated") }
        for endpoint in endpoints {
            guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--etcd \(endpoint) is not an http:// or https:// URL")
            }
        }
        guard (2...3600).contains(etcdLeaseTTL) else { throw ValidationError("--etcd-lease-ttl takes 2 to 3600 seconds") }
        guard etcdPrefix.hasPrefix("/") else { throw ValidationError("--etcd-prefix \(etcdPrefix) must start with /") }
    }

    /// The client, the revision store and this host's etcd lease, or nil without --etcd. Reads
    /// the TLS files now, so a bad one stops the start with its name.
    func connect(stateDirectory: String) throws -> EtcdConnection? {
        guard etcd != nil else { return nil }
        let client = EtcdClient(endpoints: endpoints, tls: try tlsConfiguration())
        let store = EtcdRevisionStore(kv: client, keys: EtcdZoneKeys(prefix: etcdPrefix))
        // Renewed through a client of its own with short timeouts: a renewal that hangs must be
        // given up well within the lease's TTL.
        let coordination = try coordinationClient()
        return EtcdConnection(client: client, store: store, coordination: coordination,
                              hostLease: EtcdHostLease(leasing: coordination, ttlSeconds: etcdLeaseTTL))
    }

    /// The zone's hook outbox in etcd, fed from this host's local one (`EtcdEventOutbox`).
    func sharedOutbox(_ etcd: EtcdConnection, local: SQLiteEventOutbox, stateDirectory: String) throws -> EtcdEventOutbox {
        let origin: String
        do { origin = try EtcdHostIdentity.load(stateDirectory: stateDirectory) } catch {
            throw StartupFailure(description: "cannot keep this host's etcd identity in \(stateDirectory): \(error)")
        }
        return EtcdEventOutbox(local: local, kv: etcd.client, lease: etcd.hostLease,
                               keys: EtcdOutboxKeys(EtcdZoneKeys(prefix: etcdPrefix)), origin: origin)
    }

    /// A client with short timeouts, for the host's etcd lease and the discovery blocks.
    private func coordinationClient() throws -> EtcdClient {
        EtcdClient(endpoints: endpoints, tls: try tlsConfiguration(), connectTimeout: .milliseconds(500),
                   requestTimeout: .seconds(2))
    }

    /// At start: the zone's head from etcd (recording the zone file as revision 1 in an empty
    /// prefix). etcd out of reach: the revision this host last ran from etcd, cached in its
    /// state directory, with a warning; the follower catches up once etcd answers. With no
    /// cached revision zonebootd does not start: it cannot know which revision the zone runs.
    func startingRevision(_ store: EtcdRevisionStore, zoneFile: String, stateDirectory: String,
                          logger: Logger) async throws -> (ZoneRevision, RevisionSummary) {
        let cachePath = EtcdRevisionCache.path(stateDirectory: stateDirectory)
        do {
            let (revision, summary) = try await ZoneAdministrator.startingRevision(zoneFile: zoneFile, from: store, logger: logger)
            try? EtcdRevisionCache.write(StoredRevision(summary: summary, source: revision.source), path: cachePath)
            return (revision, summary)
        } catch let unavailable as StoreUnavailable {
            guard let cached = EtcdRevisionCache.read(path: cachePath) else {
                throw StartupFailure(description: "\(unavailable.description); no revision cached in \(cachePath) to start with (a host's first start needs etcd)")
            }
            logger.warning("\(unavailable.description): starting with revision \(cached.summary.id) cached in \(cachePath); it follows the zone's head once etcd answers")
            return try ZoneAdministrator.starting(cached, zoneFile: zoneFile, logger: logger)
        }
    }

    private func tlsConfiguration() throws -> TLSConfiguration? {
        guard etcdCAFile != nil || etcdCertFile != nil else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let etcdCAFile {
            let authorities: [NIOSSLCertificate]
            do { authorities = try NIOSSLCertificate.fromPEMFile(etcdCAFile) } catch {
                throw StartupFailure(description: "cannot use the etcd CA file \(etcdCAFile): \(error)")
            }
            guard !authorities.isEmpty else { throw StartupFailure(description: "the etcd CA file \(etcdCAFile) holds no PEM certificate") }
            configuration.trustRoots = .certificates(authorities)
        }
        if let etcdCertFile, let etcdKeyFile {
            let chain: [NIOSSLCertificate]
            do { chain = try NIOSSLCertificate.fromPEMFile(etcdCertFile) } catch {
                throw StartupFailure(description: "cannot use the etcd client certificate \(etcdCertFile): \(error)")
            }
            let keyBytes: [UInt8]
            switch OwnerOnlyFile.contents(path: etcdKeyFile, maximumSize: 1 << 20) {
            case .success(let bytes): keyBytes = bytes
            case .failure(let problem): throw StartupFailure(description: problem.message("the etcd key file", etcdKeyFile))
            }
            let key: NIOSSLPrivateKey
            do { key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) } catch {
                throw StartupFailure(description: "the etcd key file \(etcdKeyFile) holds no PEM private key: \(error)")
            }
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        }
        return configuration
    }
}

/// What a host on etcd talks to: the zone's revisions, and its one etcd lease (discovery
/// blocks and outbox claims are attached to it).
struct EtcdConnection {
    var client: EtcdClient
    var store: EtcdRevisionStore
    /// Short timeouts: the lease's renewals and the discovery blocks' claims.
    var coordination: EtcdClient
    var hostLease: EtcdHostLease
}
