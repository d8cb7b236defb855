import AdminAPI
import Foundation
import Hummingbird
import Store

/// `GET /v1/secrets`: every host's bootstrap secrets, issued, used or expired, with
/// fingerprints and never a value. Among the reads (`reads`: a read token): which hosts are
/// waiting for a secret is no business of other machines.
func addSecretRoutes(to reads: RouterGroup<AdminRequestContext>, store: any BootstrapSecretStore) {
    reads.get("/v1/secrets") { _, _ in
        do {
            let now = Int64(Date().timeIntervalSince1970)
            return json(try store.all().map { BootstrapSecretRow($0, now: now) })
        } catch {
            throw AdminHTTPError(.internalServerError, APIError(error: "\(error)"))
        }
    }
}
