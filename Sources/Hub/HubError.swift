import DeepfakeCore
import Foundation

/// Why a Hub request or a cache look-up failed. `description` is a complete sentence meant for the user.
public enum HubError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of network failure happened (the HTTP client's kinds).
    public typealias NetworkFailure = HTTPFailureKind

    /// `repo` is not of the form `name` or `org/name` (letters, digits, `-`, `_`, `.`).
    case invalidRepoID(String)
    /// A file path in a repository is empty, absolute or contains `..`.
    case invalidPath(String)
    /// A revision the Hub would never name (see `revisionRule`); refused before any request or write.
    case invalidRevision(String)
    /// A `--model`-style argument is neither an existing directory nor a repository id.
    case invalidModelLocation(argument: String, detail: String)
    /// The files are not in the cache and no request may be made: offline mode is on
    /// (`networkError == nil`), or the Hub could not be reached (`networkError` says why).
    case notCached(repo: String, revision: String, missing: [String], cacheRoot: String, networkError: String?)
    /// The repository does not exist, or is private and the token (if any) does not give access.
    case repositoryNotFound(repo: String, hasToken: Bool)
    /// The repository is gated: its conditions must be accepted on the Hub, and a token sent.
    case gatedRepository(repo: String, hasToken: Bool, message: String?)
    /// 401/403 without a more precise reason.
    case unauthorized(repo: String, path: String, status: Int, hasToken: Bool, message: String?)
    /// The revision (branch, tag or commit) does not exist in the repository.
    case revisionNotFound(repo: String, revision: String)
    /// The file does not exist in the repository at that revision.
    case fileNotFound(repo: String, revision: String, path: String)
    /// Any other HTTP error status (5xx and unexpected 4xx).
    case httpStatus(status: Int, url: String, message: String?)
    /// The request never got an HTTP answer.
    case network(NetworkFailure, url: String, detail: String)
    /// A download broke off and retrying did not finish it; what arrived is kept and the next run resumes it.
    case downloadInterrupted(repo: String, path: String, bytesDone: Int64, bytesTotal: Int64?, detail: String)
    /// The server answered without the headers the Hub always sends (commit, etag).
    case missingMetadata(url: String, detail: String)
    /// More than the allowed number of redirects (`HubDownloadLimits.maxRedirects`).
    case tooManyRedirects(url: String)
    /// A URL that is not http or https: a redirect from `referrer`, or the endpoint itself (`referrer == nil`).
    /// Refused at once, never retried.
    case unsupportedURL(url: String, referrer: String?)
    /// The file's announced size exceeds the limit for its kind (`HubDownloadLimits.jsonFileLimit`); nothing was
    /// downloaded.
    case fileTooLarge(repo: String, path: String, size: Int64, limit: Int64)
    /// The server sent more bytes than it announced; reading stopped there and the download was discarded.
    case bodyLongerThanAnnounced(repo: String, path: String, announced: Int64)
    /// The file's time budget (`HubDownloadLimits.deadline(forSize:)`) ran out; what arrived is kept for the
    /// next run to resume.
    case deadlineExceeded(repo: String, path: String, host: String, elapsed: TimeInterval, limit: TimeInterval)
    /// The downloaded file does not have the size the Hub announced; it was discarded.
    case sizeMismatch(repo: String, path: String, expected: Int64, actual: Int64)
    /// The downloaded file's sha256 differs from the etag the Hub announced; it was discarded.
    case checksumMismatch(repo: String, path: String, expected: String, actual: String)
    /// A file-system operation in the cache failed.
    case fileSystem(path: String, detail: String)

    public var description: String {
        switch self {
        case .invalidRepoID(let repo):
            return "'\(repo)' is not a valid Hugging Face repository id: expected 'name' or 'org/name' made of letters, "
                + "digits, '-', '_' and '.' (optionally followed by '@revision')."
        case .invalidPath(let path) where path.isEmpty:
            return "No file of the repository was asked for (an empty path or an empty list)."
        case .invalidPath(let path):
            return "'\(path)' is not a valid file path inside a repository (it must be relative, without '..')."
        case .invalidRevision(let revision):
            return "'\(revision.debugDescription.dropFirst().dropLast())' is not a valid revision: \(HubError.revisionRule)"
        case .invalidModelLocation(let argument, let detail):
            return "'\(argument)' is neither a model directory nor a Hugging Face repository id (org/name[@revision]): \(detail)"
        case .notCached(let repo, let revision, let missing, let cacheRoot, let networkError):
            let what = missing.isEmpty ? "" : " (missing: \(missing.joined(separator: ", ")))"
            let reason: String
            if let networkError {
                reason = "the Hugging Face Hub could not be reached (\(networkError))"
            } else {
                reason = "offline mode is on (HF_HUB_OFFLINE), so nothing may be downloaded"
            }
            return "\(repo)@\(revision) is not in the Hugging Face cache at \(cacheRoot)\(what), and \(reason). "
                + "To get the model: run once with network access"
                + (networkError == nil ? " (unset HF_HUB_OFFLINE)" : "")
                + "; or download it elsewhere with `huggingface-cli download \(repo)` (or `git clone "
                + "https://huggingface.co/\(repo)` with git-lfs) and pass that folder with --model DIR."
        case .repositoryNotFound(let repo, let hasToken):
            return "Repository \(repo) was not found on the Hugging Face Hub. Check the name; if it is private, "
                + (hasToken ? "the token in use (HF_TOKEN) does not give access to it." :
                    "set HF_TOKEN (or log in with `huggingface-cli login`) to a token that can read it.")
        case .gatedRepository(let repo, let hasToken, let message):
            return "Repository \(repo) is gated: accept its conditions at https://huggingface.co/\(repo) and "
                + (hasToken ? "check that the token in HF_TOKEN belongs to that account." :
                    "set HF_TOKEN to a token of that account (or run `huggingface-cli login`).")
                + (message.map { " The Hub said: \($0)" } ?? "")
        case .unauthorized(let repo, let path, let status, let hasToken, let message):
            return "Access to \(path) in \(repo) was refused (HTTP \(status)). The repository may be private or gated: "
                + (hasToken ? "the token in HF_TOKEN does not give access." :
                    "set HF_TOKEN to a token that can read it (or run `huggingface-cli login`).")
                + (message.map { " The Hub said: \($0)" } ?? "")
        case .revisionNotFound(let repo, let revision):
            return "Revision '\(revision)' does not exist in repository \(repo)."
        case .fileNotFound(let repo, let revision, let path):
            return "File \(path) was not found in repository \(repo) at revision '\(revision)' "
                + "(or the repository itself does not exist)."
        case .httpStatus(let status, let url, let message):
            let kind = status >= 500 ? "The Hugging Face Hub had a server error" : "The request was refused"
            return "\(kind) (HTTP \(status)) for \(url)" + (message.map { ": \($0)" } ?? ".")
                + (status >= 500 ? " Try again later, or set HF_HUB_OFFLINE=1 to use the cache only." : "")
        case .network(let failure, let url, let detail):
            let what: String
            switch failure {
            case .dns: what = "the host name could not be resolved (no network, or DNS failure)"
            case .timeout: what = "the request timed out"
            case .connection: what = "the connection failed"
            case .tls: what = "the secure connection failed"
            case .other: what = "the request failed"
            }
            return "Could not reach \(url): \(what) (\(detail)). Check the network (or HF_ENDPOINT), "
                + "or set HF_HUB_OFFLINE=1 to use files already in the cache."
        case .downloadInterrupted(let repo, let path, let done, let total, let detail):
            let amount = total.map { "\(done) of \($0) bytes" } ?? "\(done) bytes"
            return "The download of \(path) from \(repo) was interrupted after \(amount) (\(detail)). "
                + "Run again to resume it, or set HF_HUB_OFFLINE=1 to use files already in the cache."
        case .missingMetadata(let url, let detail):
            return "The server at \(url) did not answer like the Hugging Face Hub: \(detail). "
                + "Check HF_ENDPOINT or any proxy in between."
        case .tooManyRedirects(let url):
            return "Too many redirects while fetching \(url)."
        case .unsupportedURL(let url, let referrer?):
            return "The server at \(referrer) redirected to \(url), which is not an http or https URL; refusing to "
                + "follow it (not retried). Check HF_ENDPOINT or any proxy in between."
        case .unsupportedURL(let url, nil):
            return "\(url) is not an http or https URL; set HF_ENDPOINT to the Hub's address (e.g. "
                + "\(HubEnvironment.defaultEndpoint))."
        case .fileTooLarge(let repo, let path, let size, let limit):
            return "\(path) in \(repo) is announced at \(size) bytes, more than the \(limit) bytes allowed for a "
                + ".json metadata file; it was not downloaded. Check the repository (or HF_ENDPOINT)."
        case .bodyLongerThanAnnounced(let repo, let path, let announced):
            return "The server sent more than the \(announced) bytes it announced for \(path) from \(repo); reading "
                + "stopped there and the download was discarded. Check HF_ENDPOINT or any proxy in between."
        case .deadlineExceeded(let repo, let path, let host, let elapsed, let limit):
            return "The download of \(path) from \(repo) (host \(host)) did not finish within its "
                + "\(formatSeconds(limit)) (stopped after \(formatSeconds(elapsed))); the link is too slow or the server "
                + "stalls. What arrived is kept: run again to resume it, or set HF_HUB_OFFLINE=1 to use the cache only."
        case .sizeMismatch(let repo, let path, let expected, let actual):
            return "The download of \(path) from \(repo) has \(actual) bytes instead of the announced \(expected); "
                + "it was discarded. Try again."
        case .checksumMismatch(let repo, let path, let expected, let actual):
            return "The download of \(path) from \(repo) is corrupt: its sha256 is \(actual), expected \(expected); "
                + "it was discarded. Try again."
        case .fileSystem(let path, let detail):
            return "Hugging Face cache error at \(path): \(detail)"
        }
    }
}

extension HubError {
    /// What a revision may be, for messages: the rule `validateRevision` applies.
    public static let revisionRule = "a branch or tag name (letters, digits and '-', '_', '.', '+', '=', '/'; "
        + "at most 255 characters; no empty component, no component starting with '.' or ending with '.lock', no '..') "
        + "or a 40-hex commit hash."
}

/// `12.3 s` or `10 min 5 s`.
private func formatSeconds(_ seconds: TimeInterval) -> String {
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let whole = Int(seconds.rounded())
    return "\(whole / 60) min \(whole % 60) s"
}
