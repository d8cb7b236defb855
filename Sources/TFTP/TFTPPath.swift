/// Why a requested file name is refused before any file system lookup.
public enum TFTPPathError: Error, Sendable, Hashable {
    case empty
    case containsNUL
    /// A `..` component: nothing above the served root is ever named.
    case parentComponent

    public var reason: String {
        switch self {
        case .empty: "empty-path"
        case .containsNUL: "nul-in-path"
        case .parentComponent: "parent-component"
        }
    }
}

public enum TFTPPath {
    /// The relative path a requested file name names under the served root.
    ///
    /// PXE ROMs send `\` as separator and often a leading `/` (`/pxelinux.0`): both are
    /// accepted. Empty and `.` components collapse; `..` anywhere is refused rather than
    /// resolved, so no name climbs out of the root however it is spelled.
    public static func normalize(_ requested: String) -> Result<String, TFTPPathError> {
        if requested.utf8.contains(0) { return .failure(.containsNUL) }
        var components: [Substring] = []
        for component in requested.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "/" || $0 == "\\" }) {
            if component == "." { continue }
            if component == ".." { return .failure(.parentComponent) }
            components.append(component)
        }
        guard !components.isEmpty else { return .failure(.empty) }
        return .success(components.joined(separator: "/"))
    }
}
