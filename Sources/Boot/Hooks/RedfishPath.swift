/// A path a Redfish service names (`@odata.id`), accepted only when it stays on that service.
///
/// The registration hook sends the shared BMC credentials with every request, to
/// `https://<the BMC's leased address><path>`, and the paths come from the device's own
/// answers. A device that is not what it claims could answer `@evil.example/x` (userinfo:
/// the host becomes evil.example), `.evil.example/x` (a longer host name), `:8443/x` (another
/// port) or `//evil.example/x`: each would send the credentials elsewhere. So a path must be
/// absolute, under `/redfish/`, and made of plain path characters only.
public enum RedfishPath {
    /// `text` if it is a path on the service itself, else nil.
    public static func onService(_ text: String) -> String? {
        guard text.hasPrefix("/redfish/"), text.utf8.count <= 512 else { return nil }
        let segments = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        // No empty segment but a trailing one (`/redfish/v1/`), no `.` or `..`.
        for (index, segment) in segments.enumerated() {
            if segment.isEmpty && index != segments.count - 1 { return nil }
            if segment == "." || segment == ".." { return nil }
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._~".utf8)
        guard text.utf8.allSatisfy(allowed.contains) else { return nil }
        return text
    }
}
