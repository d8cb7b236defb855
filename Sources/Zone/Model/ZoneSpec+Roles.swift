/// Roles: what is plugged into a port, how it boots, and what configuration management
/// (Chef, Ansible) or zero-touch provisioning (switches) takes over afterwards.
extension ZoneSpec {
    public struct Role: Sendable {
        public var name: Located<String>
        public var boot: Located<String>?
        public var chef: Chef?
        public var ansible: Ansible?
        public var hooks: [Located<String>]
        public var ztp: Located<ZTPPlatform>?
        /// Addition: the NOS installer ONIE gets on this role's switches (option 114 and 125).
        public var installer: Located<InstallerLocation>? = nil
    }

    public struct Chef: Sendable {
        public var runList: [Located<String>]
        public var environment: Located<String>?
        public var attributes: ZoneValue
        /// The top-level attribute names as written, for checks that point at one.
        public var attributeKeys: [Located<String>] = []
    }

    public struct Ansible: Sendable {
        public var groups: [Located<String>]
        /// Kept in file order; names are checked to be valid Ansible variable names.
        public var vars: [(name: Located<String>, value: ZoneValue)]
    }
}

/// The zero-touch provisioning dialect a switch role speaks.
public enum ZTPPlatform: String, Sendable, Codable, CaseIterable {
    case cumulus, onie, sonic, arista
}

/// Where ONIE fetches a NOS installer: a URL as written, or a path under the boot
/// server's files directory (served at `/files/<path>`).
public enum InstallerLocation: Sendable, Hashable, CustomStringConvertible {
    case url(String)
    case files(String)

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 1024, !text.contains(where: { $0.isWhitespace }) else { return nil }
        let schemes = ["http://", "https://", "ftp://", "tftp://"]
        if schemes.contains(where: { text.hasPrefix($0) }) {
            guard schemes.allSatisfy({ text != $0 }) else { return nil }
            self = .url(text)
            return
        }
        guard !text.contains("://"), !text.hasPrefix("/"), !text.split(separator: "/").contains("..") else { return nil }
        self = .files(text)
    }

    /// The URL a switch is given; a files path needs the boot server's base URL.
    public func url(base: String?) -> String? {
        switch self {
        case .url(let url): url
        case .files(let path): base.map { "\($0)/files/\(path)" }
        }
    }

    public var description: String {
        switch self {
        case .url(let url): url
        case .files(let path): path
        }
    }
}
