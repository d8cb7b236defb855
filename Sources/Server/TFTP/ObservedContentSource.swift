import Addressing
import NIOCore

/// A content source that tells `opened` of every file it opened for a client (the zone
/// view's boot phases: a loader or a host file fetched over TFTP). Refusals are not told.
public struct ObservedContentSource: TFTPContentSource {
    public typealias Opened = @Sendable (_ path: String, _ client: IPv4Address) -> Void

    let base: any TFTPContentSource
    let opened: Opened

    public init(_ base: any TFTPContentSource, opened: @escaping Opened) {
        self.base = base
        self.opened = opened
    }

    public func open(_ path: String, client: IPv4Address) throws(TFTPContentError) -> any TFTPContent {
        let content = try base.open(path, client: client)
        opened(path, client)
        return content
    }

    public func open(_ path: String, client: IPv4Address, on eventLoop: any EventLoop) -> EventLoopFuture<any TFTPContent> {
        base.open(path, client: client, on: eventLoop).map { [opened] content in
            opened(path, client)
            return content
        }
    }
}
