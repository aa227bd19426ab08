#!/usr/bin/env python3
"""tests/milter/msgs/make-msgs.py - writes the *.eml messages of the miltertest
scripts t-mime-*.lua, in the forms Thunderbird 115 and Outlook 365 write them
(their header order, boundaries, folding, encodings), with CRLF line ends.

The .eml files are checked in (the tests read them; this script is how they
were made, so that the encoded parts can be read here in clear). Run it from
anywhere: it writes next to itself. Deterministic: no dates, no randomness.
"""
import base64
import os
import quopri

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(data, width=76):
    if isinstance(data, str):  # text: canonical CRLF line ends inside (RFC 2045)
        data = data.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + width] for i in range(0, len(s), width)) + "\n"


def qp(text, charset="utf-8"):
    return quopri.encodestring(text.encode(charset)).decode()


def pseudo(n, seed=7):
    """n bytes that look like binary data (deterministic)."""
    out, x = bytearray(), seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append((x >> 16) & 0xFF)
    return bytes(out)


def write(name, text):
    # LF in the sources here; CRLF in the file, as on the wire.
    data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


TB = """Message-ID: <{mid}@corp.test>
Date: Tue, 1 Dec 2026 10:15:02 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Content-Language: de-DE
To: Bob Beispiel <bob@other.test>
From: Alice Example <alice@corp.test>
"""

OL_HEAD = """From: Alice Example <alice@corp.test>
To: Bob Beispiel <bob@other.test>
{subject}Thread-Topic: {topic}
Thread-Index: AdtD5vJq3m0bRk1cTyqL0n8YwJ2hVw==
Date: Tue, 1 Dec 2026 09:15:02 +0000
Message-ID: <AM0PR07MB61{mid}E4F2A3B4C5D6E7F8A9B0C1D2@AM0PR07MB6100.eurprd07.prod.outlook.com>
Accept-Language: de-DE, en-US
Content-Language: de-DE
X-MS-Has-Attach: {attach}
X-MS-TNEF-Correlator:
"""

TB_TEXT = "Hallo Bob,\n\nanbei die Zahlen f\u00fcr Dezember.\n\nGr\u00fc\u00dfe\nAlice\n"


def tb_plain(mid, subject, text=TB_TEXT):
    return (TB.format(mid=mid) + "Subject: " + subject + "\n" +
            "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
            "Content-Transfer-Encoding: 8bit\n\n" + text)


# --- Subjects ---------------------------------------------------------------

write("tb-subject-b.eml", tb_plain("a1b2c3d4-0001-4e21-9a6f-0c5e8d2b1a77",
      "=?UTF-8?B?W2VuY3J5cHRdIHNlY3JldA==?="))
write("tb-subject-q.eml", tb_plain("a1b2c3d4-0002-4e21-9a6f-0c5e8d2b1a77",
      "=?utf-8?Q?=5Bencrypt=5D_Gehalts=C3=BCbersicht?="))


def b_words(text, first):
    """Thunderbird's long B subject: encoded words cut by byte count, at
    character boundaries (not word boundaries), folded with CRLF SP."""
    raw = text.encode("utf-8")
    pieces, cur = [], first.encode("utf-8")
    rest = raw[len(cur):]
    pieces.append(cur)
    cur = b""
    for ch in rest.decode("utf-8"):
        b = ch.encode("utf-8")
        if len(cur) + len(b) > 45:
            pieces.append(cur)
            cur = b""
        cur += b
    if cur:
        pieces.append(cur)
    return "\n ".join("=?UTF-8?B?" + base64.b64encode(p).decode() + "?=" for p in pieces)


LONG = ("[encrypt] Gehalts\u00fcbersicht f\u00fcr alle Mitarbeiterinnen und "
        "Mitarbeiter, Gesch\u00e4ftsjahr 2026 (vorl\u00e4ufig)")
write("tb-subject-long.eml", tb_plain("a1b2c3d4-0003-4e21-9a6f-0c5e8d2b1a77",
      b_words(LONG, "[encrypt] Gehalts")))
write("tb-subject-re.eml", tb_plain("a1b2c3d4-0004-4e21-9a6f-0c5e8d2b1a77",
      "=?UTF-8?B?" + base64.b64encode("Re: [encrypt] Gr\u00fc\u00dfe".encode()).decode() + "?="))

OL_TEXT_HTML = """<html xmlns:v=3D"urn:schemas-microsoft-com:vml" xmlns:o=3D"urn:schemas-micr=
osoft-com:office:office" xmlns:w=3D"urn:schemas-microsoft-com:office:word" =
xmlns:m=3D"http://schemas.microsoft.com/office/2004/12/omml" xmlns=3D"http:=
//www.w3.org/TR/REC-html40">
<head>
<meta http-equiv=3D"Content-Type" content=3D"text/html; charset=3Diso-8859-=
1">
<meta name=3D"Generator" content=3D"Microsoft Word 15 (filtered medium)">
</head>
<body lang=3D"DE" link=3D"#0563C1" vlink=3D"#954F72" style=3D"word-wrap:bre=
ak-word">
<div class=3D"WordSection1">
<p class=3D"MsoNormal">{body}<o:p></o:p></p>
</div>
</body>
</html>
"""


def ol_alt(mid, subject_line, topic, plain_qp, html_qp, charset="iso-8859-1"):
    bnd = "_000_AM0PR07MB61" + mid + "E4F2AM0PR07MB6100eurp_"
    return (OL_HEAD.format(subject=subject_line, topic=topic, mid=mid, attach="") +
            "Content-Type: multipart/alternative;\n\tboundary=\"" + bnd + "\"\n"
            "MIME-Version: 1.0\n\n"
            "--" + bnd + "\n"
            "Content-Type: text/plain; charset=\"" + charset + "\"\n"
            "Content-Transfer-Encoding: quoted-printable\n\n" + plain_qp + "\n"
            "--" + bnd + "\n"
            "Content-Type: text/html; charset=\"" + charset + "\"\n"
            "Content-Transfer-Encoding: quoted-printable\n\n" +
            OL_TEXT_HTML.format(body=html_qp) + "\n"
            "--" + bnd + "--\n")


write("ol-subject-latin1.eml", ol_alt(
    "10", "Subject:\n =?iso-8859-1?Q?=5Bencrypt=5D_Geh=E4lter_M=E4rz?=\n",
    "=?iso-8859-1?Q?Geh=E4lter_M=E4rz?=",
    "Hallo Bob,\n\nanbei die Geh=E4lter.\n\nAlice\n", "Hallo Bob, anbei die Geh=E4lter."))
w1252 = base64.b64encode("[secure] Angebot \u2013 Preise 2026".encode("cp1252")).decode()
write("ol-subject-1252.eml", ol_alt(
    "11", "Subject:\n =?windows-1252?B?" + w1252 + "?=\n",
    "=?windows-1252?B?" + base64.b64encode("Angebot \u2013 Preise 2026".encode("cp1252")).decode() + "?=",
    "Hallo Bob,\n\nanbei das Angebot.\n\nAlice\n", "Hallo Bob, anbei das Angebot.",
    charset="Windows-1252"))

# --- Body -------------------------------------------------------------------

TB_B = "------------{0}"


def tb_mp(mid, subject, ctype, bnd, parts, preamble="This is a multi-part message in MIME format.\n"):
    out = TB.format(mid=mid) + "Subject: " + subject + "\n"
    out += "Content-Type: " + ctype + ";\n boundary=\"" + bnd + "\"\n\n" + preamble
    for p in parts:
        out += "--" + bnd + "\n" + p
        if not p.endswith("\n\n"):
            out += "\n"
    return out + "--" + bnd + "--\n"


def tb_part(ctype, cte, body, extra=""):
    return "Content-Type: " + ctype + "\n" + extra + "Content-Transfer-Encoding: " + cte + "\n\n" + body


CONF_TEXT = ("Hallo Bob,\n\nanbei die Zahlen f\u00fcr Dezember. Bitte CONFIDENTIAL "
             "behandeln und nicht weiterleiten.\n\nGr\u00fc\u00dfe\nAlice\n")
write("tb-b64-plain.eml", TB.format(mid="b0000001-0001-4e21-9a6f-0c5e8d2b1a77") +
      "Subject: Zahlen Dezember\n"
      "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
      "Content-Transfer-Encoding: base64\n\n" + b64(CONF_TEXT))

HTML = ("<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv=\"content-type\" "
        "content=\"text/html; charset=UTF-8\">\n  </head>\n  <body>\n    <p>Hallo Bob,</p>\n"
        "    <p>anbei die Zahlen f\u00fcr Dezember. Bitte <b>CONFIDENTIAL</b> behandeln.</p>\n"
        "    <p>Gr\u00fc\u00dfe<br>\n      Alice</p>\n  </body>\n</html>\n")
PLAIN_NOKW = "Hallo Bob,\n\nanbei die Zahlen f\u00fcr Dezember. Bitte vertraulich behandeln.\n\nAlice\n"
B1 = TB_B.format("0h1zXbK2d3Gq8VvYwL5tN6mR")
write("tb-html-b64.eml", tb_mp("b0000001-0002-4e21-9a6f-0c5e8d2b1a77", "Zahlen Dezember",
      "multipart/alternative", B1, [
          tb_part("text/plain; charset=UTF-8; format=flowed", "base64", b64(PLAIN_NOKW)),
          tb_part("text/html; charset=UTF-8", "base64", b64(HTML))]))
write("ol-html-qp.eml", ol_alt(
    "12", "Subject: Zahlen Dezember\n", "Zahlen Dezember",
    "Hallo Bob,\n\nanbei die Zahlen f=FCr Dezember. Bitte vertraulich.\n\nAlice\n",
    "Hallo Bob, anbei die Zahlen f=FCr Dezember. Bitte <b>CONFIDENTIAL</b> behan=\ndeln."))
write("ol-qp-softbreak.eml", OL_HEAD.format(subject="Subject: Vertrag\n", topic="Vertrag",
      mid="13", attach="") +
      "Content-Type: text/plain; charset=\"iso-8859-1\"\n"
      "Content-Transfer-Encoding: quoted-printable\n"
      "MIME-Version: 1.0\n\n"
      "Hallo Bob,\n\nder Vertrag f=FCr M=E4rz liegt bei. Dieses Dokument ist streng CONFI=\n"
      "DENTIAL und nur f=FCr den Empf=E4nger bestimmt.\n\nAlice\n")

B_MIX = TB_B.format("mX7cQ2nLk9fWb3Rt0sYpV1aE")
B_ALT = TB_B.format("aL4tE8vN2qR6wZ0yU3oI5pS7")
PNG = pseudo(3000, 3)
alt = ("Content-Type: multipart/alternative;\n boundary=\"" + B_ALT + "\"\n\n\n" +
       "--" + B_ALT + "\n" +
       tb_part("text/plain; charset=UTF-8; format=flowed", "base64", b64(CONF_TEXT)) + "\n" +
       "--" + B_ALT + "\n" +
       tb_part("text/html; charset=UTF-8", "quoted-printable", qp(HTML.replace("CONFIDENTIAL", "vertraulich"))) + "\n" +
       "--" + B_ALT + "--\n")
write("tb-nested.eml", tb_mp("b0000001-0003-4e21-9a6f-0c5e8d2b1a77", "Zahlen Dezember",
      "multipart/mixed", B_MIX, [
          alt,
          tb_part("image/png; name=\"chart.png\"", "base64", b64(PNG),
                  "Content-Disposition: attachment; filename=\"chart.png\"\n")]))

INNER = ("Message-ID: <c0ffee00-0001-4e21-9a6f-0c5e8d2b1a77@corp.test>\n"
         "Date: Mon, 30 Nov 2026 17:02:11 +0100\nMIME-Version: 1.0\nUser-Agent: Mozilla Thunderbird\n"
         "From: Carol <carol@corp.test>\nTo: Alice Example <alice@corp.test>\nSubject: Zahlen\n"
         "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
         "Content-Transfer-Encoding: base64\n\n" + b64(CONF_TEXT))
B_FWD = TB_B.format("fW9dR3kT6bN1cM8xZ2qL5vH0")
write("tb-rfc822.eml", tb_mp("b0000001-0004-4e21-9a6f-0c5e8d2b1a77", "Fwd: Zahlen",
      "multipart/mixed", B_FWD, [
          tb_part("text/plain; charset=UTF-8; format=flowed", "7bit", "Siehe Anhang.\n"),
          "Content-Type: message/rfc822; name=\"Zahlen.eml\"\n"
          "Content-Disposition: attachment; filename=\"Zahlen.eml\"\n\n" + INNER]))

write("tb-secret-line.eml", TB.format(mid="b0000001-0005-4e21-9a6f-0c5e8d2b1a77") +
      "Subject: Notiz\nContent-Type: text/plain; charset=UTF-8; format=flowed\n"
      "Content-Transfer-Encoding: 7bit\n\nHallo Bob,\n\nSECRET-LINE\n\nAlice\n")

PDF = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       b"4 0 obj\n<< /Length 60 >>\nstream\nBT /F1 12 Tf 72 712 Td (CONFIDENTIAL report) Tj ET\n"
       b"endstream\nendobj\n" + pseudo(2000, 11) + b"\n%%EOF\n")
B_PDF = TB_B.format("pD5fR8tY1uI4oP7aS0dF3gH6")
write("tb-pdf-attach.eml", tb_mp("b0000001-0006-4e21-9a6f-0c5e8d2b1a77", "Bericht",
      "multipart/mixed", B_PDF, [
          tb_part("text/plain; charset=UTF-8; format=flowed", "7bit", "Hallo Bob,\n\nder Bericht im Anhang.\n\nAlice\n"),
          tb_part("application/pdf; name=\"report.pdf\"", "base64", b64(PDF),
                  "Content-Disposition: attachment; filename=\"report.pdf\"\n")]))

# --- Attachment names ---------------------------------------------------------

XLSX = b"PK\x03\x04" + pseudo(1500, 5)


def tb_attach(mid, ctype, disp, data, text="Hallo Bob,\n\nim Anhang.\n\nAlice\n"):
    bnd = TB_B.format("nM" + mid[-4:] + "kQ2wE5rT8yU1iO4pA7sD")
    return tb_mp("d0000001-" + mid + "-4e21-9a6f-0c5e8d2b1a77", "Unterlagen", "multipart/mixed", bnd, [
        tb_part("text/plain; charset=UTF-8; format=flowed", "7bit", text),
        tb_part(ctype, "base64", b64(data), disp)])


write("tb-attach-xlsx.eml", tb_attach("0001",
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\n name=\"Gehaltsliste 2026.xlsx\"",
      "Content-Disposition: attachment; filename=\"Gehaltsliste 2026.xlsx\"\n", XLSX))
write("tb-attach-2231.eml", tb_attach("0002", "application/pdf",
      "Content-Disposition: attachment;\n filename*0*=UTF-8''Geheim%C3%BCbersicht;\n filename*1*=.pdf\n", PDF))
write("tb-attach-nameonly.eml", tb_attach("0003", "application/x-pkcs12; name=\"alice.p12\"", "",
      pseudo(900, 13)))
write("tb-attach-other.eml", tb_attach("0004", "image/jpeg; name=\"Urlaub.jpg\"",
      "Content-Disposition: attachment; filename=\"Urlaub.jpg\"\n", pseudo(1200, 17),
      text="Hallo Bob,\n\ndie Gehaltsliste 2026.xlsx und Vertrag_M\u00e4rz.pdf und alice.p12\n"
           "schicke ich morgen.\n\nAlice\n"))

B_OLA = "_004_AM0PR07MB6114E4F2AM0PR07MB6100eurp_"
write("ol-attach-2047.eml", OL_HEAD.format(subject="Subject: Vertrag\n", topic="Vertrag", mid="14",
      attach="yes") +
      "Content-Type: multipart/mixed;\n\tboundary=\"" + B_OLA + "\"\nMIME-Version: 1.0\n\n"
      "--" + B_OLA + "\n"
      "Content-Type: text/plain; charset=\"iso-8859-1\"\n"
      "Content-Transfer-Encoding: quoted-printable\n\nHallo Bob,\n\nanbei der Vertrag.\n\nAlice\n\n"
      "--" + B_OLA + "\n"
      "Content-Type: application/pdf; name=\"=?iso-8859-1?Q?Vertrag=5FM=E4rz.pdf?=\"\n"
      "Content-Description: =?iso-8859-1?Q?Vertrag=5FM=E4rz.pdf?=\n"
      "Content-Disposition: attachment;\n\tfilename=\"=?iso-8859-1?Q?Vertrag=5FM=E4rz.pdf?=\"; size=2093;\n"
      "\tcreation-date=\"Tue, 01 Dec 2026 09:14:55 GMT\";\n"
      "\tmodification-date=\"Tue, 01 Dec 2026 09:14:55 GMT\"\n"
      "Content-Transfer-Encoding: base64\n\n" + b64(PDF) + "\n"
      "--" + B_OLA + "--\n")

# --- Decryption (inbound) -------------------------------------------------------

ARMOR = ("-----BEGIN PGP MESSAGE-----\n\n" + b64(pseudo(600, 19), 64) + "=Xk3T\n-----END PGP MESSAGE-----\n")
B_PGP = "------------Xq3mB0aS9bYcK4vRz1LhT7eN"
PGP_BODY = ("This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n"
            "--" + B_PGP + "\nContent-Type: application/pgp-encrypted\n"
            "Content-Description: PGP/MIME version identification\n\nVersion: 1\n\n"
            "--" + B_PGP + "\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n"
            "Content-Description: OpenPGP encrypted message\n"
            "Content-Disposition: inline; filename=\"encrypted.asc\"\n\n" + ARMOR + "\n"
            "--" + B_PGP + "--\n")
EXT = TB.replace("From: Alice Example <alice@corp.test>", "From: Erin <erin@outside.test>").replace(
    "To: Bob Beispiel <bob@other.test>", "To: Alice Example <alice@corp.test>")
write("tb-pgpmime.eml", EXT.format(mid="e0000001-0001-4e21-9a6f-0c5e8d2b1a77") +
      "Subject: ...\nContent-Type: multipart/encrypted;\n protocol=\"application/pgp-encrypted\";\n"
      " boundary=\"" + B_PGP + "\"\n\n" + PGP_BODY)
write("pgpmime-fold-colon.eml", EXT.format(mid="e0000001-0002-4e21-9a6f-0c5e8d2b1a77") +
      "Subject: ...\nContent-Type:\n multipart/encrypted; protocol=\"application/pgp-encrypted\";\n"
      " boundary=\"" + B_PGP + "\"\n\n" + PGP_BODY)

OL_IN = OL_HEAD.replace("From: Alice Example <alice@corp.test>", "From: Erin <erin@outside.test>").replace(
    "To: Bob Beispiel <bob@other.test>", "To: Alice Example <alice@corp.test>")
P7M = b64(pseudo(1800, 23))


def smime(name, mid, ctype, extra="Content-Disposition: attachment; filename=\"smime.p7m\"\n"):
    write(name, OL_IN.format(subject="Subject: Vertrag\n", topic="Vertrag", mid=mid, attach="yes") +
          "Content-Type: " + ctype + "\n" + extra +
          "Content-Transfer-Encoding: base64\nMIME-Version: 1.0\n\n" + P7M)


smime("ol-smime-enveloped.eml", "20", "application/pkcs7-mime; smime-type=enveloped-data;\n\tname=\"smime.p7m\"")
smime("smime-authenveloped.eml", "21", "application/pkcs7-mime; name=\"smime.p7m\";\n\tsmime-type=authEnveloped-data")
smime("smime-x-pkcs7.eml", "22", "application/x-pkcs7-mime; name=smime.p7m")
smime("smime-fold-colon.eml", "23", "\n\tapplication/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"")
smime("smime-hidden-signed.eml", "24",
      "application/pkcs7-mime; name=\"smime-type=enveloped-data\";\n\tsmime-type=signed-data")
smime("smime-hidden-enveloped.eml", "25",
      "application/pkcs7-mime; name=\"x; smime-type=signed-data.p7m\";\n\tsmime-type=enveloped-data")
smime("smime-comment.eml", "26",
      "Application/PKCS7-MIME (S/MIME encrypted) ;\n\tSMIME-Type=\"enveloped-data\" (RFC 8551); name=smime.p7m")
smime("smime-signed.eml", "27", "application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"")

write("inline-pgp-b64.eml", EXT.format(mid="e0000001-0003-4e21-9a6f-0c5e8d2b1a77") +
      "Subject: Angebot\nContent-Type: text/plain; charset=UTF-8\n"
      "Content-Transfer-Encoding: base64\n\n" + b64(ARMOR))
write("pgp-signed.eml", EXT.format(mid="e0000001-0004-4e21-9a6f-0c5e8d2b1a77") +
      "Subject: Angebot\nContent-Type: multipart/signed; micalg=pgp-sha256;\n"
      " protocol=\"application/pgp-signature\";\n boundary=\"" + B_PGP + "\"\n\n"
      "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\n--" + B_PGP + "\n"
      "Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: 7bit\n\nHallo\n\n"
      "--" + B_PGP + "\nContent-Type: application/pgp-signature; name=\"OpenPGP_signature.asc\"\n\n"
      "-----BEGIN PGP SIGNATURE-----\n\n" + b64(pseudo(120, 29), 64) + "-----END PGP SIGNATURE-----\n\n"
      "--" + B_PGP + "--\n")

# --- End to end (t-milter-content.sh sends these with swaks) ---------------------

write("e2e-subject-b.eml", "To: <tagged@open-plain.test>\nFrom: Alice Example <alice@corp.e2e.test>\n"
      "Subject: =?UTF-8?B?" + base64.b64encode("[encrypt] Gehalts\u00fcbersicht 2026".encode()).decode() + "?=\n"
      "Message-ID: <e2e00001-0001-4e21-9a6f-0c5e8d2b1a77@corp.e2e.test>\n"
      "Date: Tue, 1 Dec 2026 10:15:02 +0100\nMIME-Version: 1.0\nUser-Agent: Mozilla Thunderbird\n"
      "Content-Language: de-DE\nContent-Type: text/plain; charset=UTF-8; format=flowed\n"
      "Content-Transfer-Encoding: 8bit\n\n" + TB_TEXT)
write("e2e-dlp-b64.eml", "To: <dlp@open-plain.test>\nFrom: Alice Example <alice@corp.e2e.test>\n"
      "Subject: Zahlen Dezember\nMessage-ID: <e2e00001-0002-4e21-9a6f-0c5e8d2b1a77@corp.e2e.test>\n"
      "Date: Tue, 1 Dec 2026 10:15:02 +0100\nMIME-Version: 1.0\nUser-Agent: Mozilla Thunderbird\n"
      "Content-Language: de-DE\nContent-Type: multipart/alternative;\n boundary=\"" + B1 + "\"\n\n"
      "This is a multi-part message in MIME format.\n--" + B1 + "\n" +
      tb_part("text/plain; charset=UTF-8; format=flowed", "base64", b64(CONF_TEXT)) + "\n--" + B1 + "\n" +
      tb_part("text/html; charset=UTF-8", "base64", b64(HTML)) + "\n--" + B1 + "--\n")
write("e2e-plain.eml", "To: <plain@open-plain.test>\nFrom: Alice Example <alice@corp.e2e.test>\n"
      "Subject: =?UTF-8?B?" + base64.b64encode("Gr\u00fc\u00dfe aus Berlin".encode()).decode() + "?=\n"
      "Message-ID: <e2e00001-0003-4e21-9a6f-0c5e8d2b1a77@corp.e2e.test>\n"
      "Date: Tue, 1 Dec 2026 10:15:02 +0100\nMIME-Version: 1.0\nUser-Agent: Mozilla Thunderbird\n"
      "Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: base64\n\n" +
      b64(PLAIN_NOKW))
