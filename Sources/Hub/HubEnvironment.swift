import Foundation

/// How huggingface_hub's environment variables are read. Every function takes the environment as a dictionary so
/// that callers (and tests) decide where it comes from.
public enum HubEnvironment {
    /// The Hub's public address, used when `HF_ENDPOINT` is not set.
    public static let defaultEndpoint = "https://huggingface.co"

    /// `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
    public static func home(_ environment: [String: String]) -> String {
        if let home = nonEmpty(environment["HF_HOME"]) { return expandTilde(home, environment) }
        if let xdg = nonEmpty(environment["XDG_CACHE_HOME"]) {
            return (expandTilde(xdg, environment) as NSString).appendingPathComponent("huggingface")
        }
        return (userHome(environment) as NSString).appendingPathComponent(".cache/huggingface")
    }

    /// The hub cache directory: `$HF_HUB_CACHE` (or the older `$HUGGINGFACE_HUB_CACHE`), else `<HF_HOME>/hub`.
    public static func cacheRoot(_ environment: [String: String]) -> String {
        if let cache = nonEmpty(environment["HF_HUB_CACHE"]) ?? nonEmpty(environment["HUGGINGFACE_HUB_CACHE"]) {
            return expandTilde(cache, environment)
        }
        return (home(environment) as NSString).appendingPathComponent("hub")
    }

    /// `$HF_ENDPOINT` without a trailing slash, else `https://huggingface.co`.
    public static func endpoint(_ environment: [String: String]) -> String {
        var endpoint = nonEmpty(environment["HF_ENDPOINT"]) ?? defaultEndpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        return endpoint
    }

    /// `$HF_TOKEN` (or the older `$HUGGING_FACE_HUB_TOKEN`), else the first line of the token file
    /// (`$HF_TOKEN_PATH`, else `<HF_HOME>/token`, which `huggingface-cli login` writes); nil when none is set.
    public static func token(_ environment: [String: String]) -> String? {
        if let token = nonEmpty(environment["HF_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return token
        }
        if let token = nonEmpty(environment["HUGGING_FACE_HUB_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return token
        }
        let path = nonEmpty(environment["HF_TOKEN_PATH"]).map { expandTilde($0, environment) }
            ?? (home(environment) as NSString).appendingPathComponent("token")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return nonEmpty(line.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Whether `$HF_HUB_OFFLINE` is one of `1`, `ON`, `YES`, `TRUE` (any case).
    public static func isOffline(_ environment: [String: String]) -> Bool {
        isTrue(environment["HF_HUB_OFFLINE"])
    }

    /// Seconds to wait for the metadata request (`$HF_HUB_ETAG_TIMEOUT`, default 10).
    public static func metadataTimeout(_ environment: [String: String]) -> TimeInterval {
        seconds(environment["HF_HUB_ETAG_TIMEOUT"]) ?? 10
    }

    /// Seconds a download may stall before it is abandoned (`$HF_HUB_DOWNLOAD_TIMEOUT`, default 10).
    public static func downloadTimeout(_ environment: [String: String]) -> TimeInterval {
        seconds(environment["HF_HUB_DOWNLOAD_TIMEOUT"]) ?? 10
    }

    static func isTrue(_ value: String?) -> Bool {
        guard let value = value?.trimmingCharacters(in: .whitespaces).uppercased() else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(value)
    }

    private static func seconds(_ value: String?) -> TimeInterval? {
        guard let value = nonEmpty(value), let number = Double(value.trimmingCharacters(in: .whitespaces)),
              number > 0, number.isFinite else { return nil }
        return number
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    private static func userHome(_ environment: [String: String]) -> String {
        nonEmpty(environment["HOME"]) ?? NSHomeDirectory()
    }

    private static func expandTilde(_ path: String, _ environment: [String: String]) -> String {
        if path == "~" { return userHome(environment) }
        if path.hasPrefix("~/") { return (userHome(environment) as NSString).appendingPathComponent(String(path.dropFirst(2))) }
        return path
    }
}
