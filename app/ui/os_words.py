"""What the operating system and the disk answer, worded for a person: the
errno values a student or teacher meets (a file not there, no permission, a
full or read-only disk), and the problems app/core/problems.py codes (a file
to send, a key file, the downloads folder), one table per language.

A rare errno is shown by its name (`系统错误 EXDEV`): short, the same in
every language, and what to search for; never the C library's English
sentence.
Used by both the client (render) and the server's consoles (admin_text).
"""
import errno
from typing import Dict

from app.core import problems
from app.core.file_names import human_size
from app.ui.language import worded

# errno name -> reason. Names, not numbers: the same on every Linux.
REASONS: Dict[str, Dict[str, str]] = {
    "zh": {
        "ENOENT": "没有这个文件或文件夹",
        "EACCES": "没有权限",
        "EPERM": "不允许这样做",
        "EISDIR": "这是一个文件夹",
        "ENOTDIR": "路径里有一部分不是文件夹",
        "ENOSPC": "磁盘满了",
        "EDQUOT": "磁盘配额用完了",
        "EROFS": "磁盘是只读的",
        "EFBIG": "文件太大",
        "EEXIST": "已经有同名的文件",
        "ENAMETOOLONG": "名字太长",
        "ELOOP": "符号链接太多 (循环？)",
        "EMFILE": "打开的文件太多",
        "ENFILE": "打开的文件太多",
        "EIO": "读写出错 (磁盘或网络文件系统)",
        "EBUSY": "文件正在被使用",
        "ETXTBSY": "文件正在被使用",
        "ENODEV": "设备不存在",
        "ENXIO": "设备不存在",
        "ESTALE": "网络文件系统的文件已经失效",
        "EAGAIN": "暂时不行，请再试",
        "EINVAL": "参数不对",
        "ENOMEM": "内存不够",
        "other": "系统错误 %(name)s",
    },
    "en": {
        "ENOENT": "no such file or folder",
        "EACCES": "permission denied",
        "EPERM": "not permitted",
        "EISDIR": "it is a folder",
        "ENOTDIR": "part of the path is not a folder",
        "ENOSPC": "the disk is full",
        "EDQUOT": "the disk quota is used up",
        "EROFS": "the disk is read-only",
        "EFBIG": "the file is too big",
        "EEXIST": "a file of that name exists",
        "ENAMETOOLONG": "the name is too long",
        "ELOOP": "too many symbolic links (a loop?)",
        "EMFILE": "too many open files",
        "ENFILE": "too many open files",
        "EIO": "input/output error (the disk or a network file system)",
        "EBUSY": "the file is in use",
        "ETXTBSY": "the file is in use",
        "ENODEV": "no such device",
        "ENXIO": "no such device",
        "ESTALE": "the network file system's file went stale",
        "EAGAIN": "not now; try again",
        "EINVAL": "invalid argument",
        "ENOMEM": "out of memory",
        "other": "system error %(name)s",
    },
}

# A coded problem's line (problems.detail): %(path)s the TEXT, %(reason)s the
# errno's words. too_big's TEXT is `SIZE LIMIT PATH`.
TEXTS: Dict[str, Dict[str, str]] = {
    "zh": {
        "open": "打不开 %(path)s: %(reason)s",
        "read": "读不了 %(path)s: %(reason)s",
        "not_file": "%(path)s 不是普通文件",
        "changed": "%(path)s 在读取时被改动了；请再试一次",
        "too_big": "%(path)s 有 %(size)s，超过了 --max-file-size %(limit)s",
        "key_read": "读不了密钥文件 %(path)s: %(reason)s",
        "key_damaged": "密钥文件 %(path)s 坏了；把它移到别处，就会生成新的密钥",
        "key_keep": "没法在 %(path)s 保存密钥 (%(reason)s)：这次运行用临时密钥，"
                    "下次指纹会不一样",
        "known_keep": "没法在 %(path)s 记住服务器的密钥 (%(reason)s)",
        "downloads_refused": "--downloads %(path)s 不能写入 (%(reason)s)：发来的文件会被拒绝",
        "downloads_fallback": "%(path)s 不能写入；发来的文件保存在 %(other)s "
                              "(--downloads 目录 可以指定)",
        "downloads_none": "找不到可以保存发来的文件的文件夹 (%(path)s)；请用 --downloads 目录",
        "no_crypto": "这个 Python 用不了 libcrypto (OpenSSL)，没法加密；两边都可以改用 --insecure"
                     " (什么都不加密)",
        "resolve": "找不到服务器 %(path)s (这个名字查不到地址；可以直接用 IP 地址)",
    },
    "en": {
        "open": "cannot open %(path)s: %(reason)s",
        "read": "cannot read %(path)s: %(reason)s",
        "not_file": "%(path)s is not a regular file",
        "changed": "%(path)s changed while it was being read; try again",
        "too_big": "%(path)s is %(size)s, over --max-file-size %(limit)s",
        "key_read": "cannot read the key file %(path)s: %(reason)s",
        "key_damaged": "the key file %(path)s is damaged; move it away to make a new key",
        "key_keep": "cannot keep a key in %(path)s (%(reason)s): using a key for this run "
                    "only, so the fingerprint changes next time",
        "known_keep": "cannot remember the server's key in %(path)s (%(reason)s)",
        "downloads_refused": "--downloads %(path)s cannot be written (%(reason)s): handouts "
                             "will be refused",
        "downloads_fallback": "cannot write to %(path)s; handouts go to %(other)s "
                              "(--downloads DIR chooses)",
        "downloads_none": "no writable folder for handouts (%(path)s); use --downloads DIR",
        "no_crypto": "this Python cannot use libcrypto (OpenSSL), so nothing can be encrypted "
                     "(%(path)s); both sides could use --insecure (nothing encrypted)",
        "resolve": "cannot find the server %(path)s (the name has no address; an IP "
                   "address works too)",
    },
}


def reason(name: str, lang: str) -> str:
    """An errno name (`ENOENT`) as words; a rare one as its name; "" for none."""
    if name in ("", problems.NO_ERRNO):
        return ""
    return worded(REASONS, lang, name if name in REASONS["en"] else "other", {"name": name})


def os_error_text(exc: OSError, lang: str) -> str:
    """An OSError's reason in `lang` (its errno's words, not its strerror)."""
    return reason(problems.errno_name(exc.errno), lang) or reason("EIO", lang)


def problem_text(coded: str, lang: str) -> str:
    """A problems.detail as one line in `lang`; any other text as it is (an
    older server's English, or an errno name alone: its words)."""
    got = problems.parse(coded)
    if got is None or got.key not in TEXTS["en"]:
        if coded in errno.errorcode.values():
            return reason(coded, lang)
        return coded
    values = dict(path=got.text, reason=reason(got.errno_name, lang) or reason("EIO", lang),
                  size="", limit="", other="")
    if got.key == "too_big":
        size, limit, path = (got.text.split(" ", 2) + ["", "", ""])[:3]
        if size.isdigit() and limit.isdigit():
            values.update(size=human_size(int(size)), limit=human_size(int(limit)), path=path)
    elif got.key == "downloads_fallback":
        # TEXT: the usual folder, a tab, the one used (paths have spaces, rarely tabs)
        usual, _, other = got.text.partition("\t")
        values.update(path=usual, other=other)
    return worded(TEXTS, lang, got.key, values)
