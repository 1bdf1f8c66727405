import CRenameExchange
import Foundation

/// Puts the folder `staged` (complete, beside `folder`) in place of `folder`, never leaving a moment without one:
/// when `folder` exists the two are exchanged in one step (Linux `renameat2(RENAME_EXCHANGE)`, macOS
/// `renamex_np(RENAME_SWAP)`) and the old content, now under `staged`'s name, is removed; otherwise `staged` is
/// renamed to `folder`. A crash before the exchange leaves the old folder and the staged one; after it, the new
/// folder and the old one under the staged name. Either way a leftover has `staged`'s name for a cleaner to remove.
///
/// Where the file system cannot exchange (EINVAL, ENOSYS, ENOTSUP), the old folder is first renamed aside to
/// `folder.tmp-old`, then `staged` into place: the one moment without `folder` lasts between two renames.
/// - Throws: `FileError` naming `folder`.
package func replaceFolderAtomically(_ folder: String, with staged: String) throws(FileError) {
    var info = stat()
    guard lstat(folder, &info) == 0 else {
        if rename(staged, folder) != 0 { throw FileError(path: folder, reason: "cannot move \(staged) into place: " + systemError()) }
        return
    }
    if deepfake_exchange_paths(staged, folder) == 0 {
        removeTree(staged)
        return
    }
    let failure = errno
    guard failure == EINVAL || failure == ENOSYS || failure == ENOTSUP || failure == EOPNOTSUPP else {
        throw FileError(path: folder, reason: "cannot exchange it with \(staged): " + String(cString: strerror(failure)))
    }
    let aside = folder + ".tmp-old"
    removeTree(aside)
    guard rename(folder, aside) == 0 else { throw FileError(path: folder, reason: "cannot move it aside: " + systemError()) }
    guard rename(staged, folder) == 0 else {
        let reason = systemError()
        _ = rename(aside, folder)
        throw FileError(path: folder, reason: "cannot move \(staged) into place: " + reason)
    }
    removeTree(aside)
}

/// Removes `path` and everything under it, if it exists (errors ignored: used on leftovers).
func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
