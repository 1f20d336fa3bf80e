"""French and German for what Discord shows in its command picker.

Only descriptions, choice names and context-menu names are translated. Slash-command,
group and option names stay English: people type them, share them in examples and
help text, and Discord restricts them to lowercase without spaces, so a translated
name would make `/write style:…` mean nothing to a French or German user. A
context-menu name is a label chosen from a menu, never typed, so it may be translated.

The tables are keyed by the English text exactly as the cogs write it, so a changed
English string shows up in `missing_translations` instead of silently going stale. A
declared option's text is keyed by its template (`bot.commands`): `{low}` and `{high}`
are its range, written here as each language writes numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation, TranslationContextTypes, locale_str

from bot.commands.slash import number

DESCRIPTION_LIMIT = 100  # characters Discord allows in a description or choice name
CONTEXT_MENU_LIMIT = 32  # characters Discord allows in a context-menu name
PLACEHOLDER = "…"  # the description discord.py sends when a cog gives none

FRENCH: dict[str, str] = {
    # /color
    "Show the colour a name evokes": "Afficher la couleur qu'évoque un nom",
    "A colour name, real or invented (e.g. forest)": (
        "Un nom de couleur, réel ou inventé (ex. : forest)"
    ),
    # /write
    "Write new text in a learned style": "Écrire un nouveau texte dans un style appris",
    "Whose style to imitate (default: this server's choice)": (
        "Le style à imiter (par défaut : celui choisi par le serveur)"
    ),
    "Opening text to continue (kept in the output)": (
        "Début de texte à poursuivre (conservé dans le résultat)"
    ),
    "Characters to generate ({low} to {high})": (
        "Nombre de caractères à générer (de {low} à {high})"
    ),
    "0 = always the likeliest character; higher = more adventurous (max {high})": (
        "0 = toujours le caractère le plus probable ; plus haut = plus audacieux (max. {high})"
    ),
    "Same seed and options give the same text": (
        "Même graine et mêmes options donnent le même texte"
    ),
    # /caption
    "Compose captions, or caption an image": "Composer des légendes, ou légender une image",
    "A picture to caption (PNG, JPEG, WebP or GIF, up to 8 MB)": (
        "Une image à légender (PNG, JPEG, WebP ou GIF, 8 Mo max.)"
    ),
    "How the caption should begin": "Comment la légende doit commencer",
    "How many captions ({low} to {high})": "Nombre de légendes (de {low} à {high})",
    "0 = safest wording; higher = more adventurous (max {high})": (
        "0 = formulation la plus sûre ; plus haut = plus audacieux (max. {high})"
    ),
    "Same seed and options give the same captions": (
        "Même graine et mêmes options donnent les mêmes légendes"
    ),
    # /paint
    "Paint a new picture in the style of Monet": (
        "Peindre un nouveau tableau à la manière de Monet"
    ),
    "Same seed and temperature give the same painting": (
        "Même graine et même température donnent le même tableau"
    ),
    "Lower = calmer colours, higher = wilder ({low} to {high})": (
        "Plus bas = couleurs plus calmes, plus haut = plus folles (de {low} à {high})"
    ),
    "Canvas size in pixels (the sizes the painter was trained at)": (
        "Taille de la toile en pixels (celles apprises par le peintre)"
    ),
    # /name
    "Invent names for a colour": "Inventer des noms pour une couleur",
    "#7a9e3b, #7a3, rgb(122, 158, 59) or a colour name": (
        "#7a9e3b, #7a3, rgb(122, 158, 59) ou un nom de couleur"
    ),
    "0 = safest names; higher = wilder (max {high})": (
        "0 = noms les plus sûrs ; plus haut = plus fous (max. {high})"
    ),
    "Same seed and colour give the same names": (
        "Même graine et même couleur donnent les mêmes noms"
    ),
    # admin and help
    "Loaded models and their key numbers": "Modèles chargés et leurs chiffres clés",
    "Re-read changed model files": "Relire les fichiers de modèle modifiés",
    "How to use each command, with examples and the limits here": (
        "Comment utiliser chaque commande, avec des exemples et les limites en vigueur ici"
    ),
    # /settings
    "Server and channel settings for this bot": (
        "Paramètres de ce bot pour le serveur et ses salons"
    ),
    "Show the settings that apply in this channel": (
        "Afficher les paramètres en vigueur dans ce salon"
    ),
    "Change a setting for the whole server or one channel": (
        "Modifier un paramètre pour tout le serveur ou un seul salon"
    ),
    "Forget a setting (back to the server's value or the default)": (
        "Oublier un paramètre (retour à la valeur du serveur ou par défaut)"
    ),
    "What to change": "Le paramètre à modifier",
    "The new value": "La nouvelle valeur",
    "Only in this channel (default: the whole server)": (
        "Seulement dans ce salon (par défaut : tout le serveur)"
    ),
    # /palette
    "The five main colours of an image, named": (
        "Les cinq couleurs principales d'une image, nommées"
    ),
    "A picture (PNG, JPEG, WebP or GIF, up to 8 MB)": (
        "Une image (PNG, JPEG, WebP ou GIF, jusqu'à 8 Mo)"
    ),
    # context menus
    "Caption this image": "Légender cette image",
    "Palette of this image": "Palette de cette image",
    "Continue this text": "Poursuivre ce texte",
    "Caption their avatar": "Légender son avatar",
    "Teach the bot a new writing style": "Apprendre au bot un nouveau style d'écriture",
    "Fine-tune a new /write style on a text file": (
        "Affiner un nouveau style /write à partir d'un fichier texte"
    ),
    "The new style's name (lowercase letters, digits, - and _)": (
        "Nom du nouveau style (minuscules, chiffres, - et _)"
    ),
    "A UTF-8 text file in the style to learn": "Un fichier texte UTF-8 dans le style à apprendre",
    "The style to start from (default: the first loaded)": (
        "Le style de départ (par défaut : le premier chargé)"
    ),
    "Keep the text once the style is trained (default: it is deleted)": (
        "Garder le texte une fois le style entraîné (par défaut : il est supprimé)"
    ),
    "Offer a style trained here in every server": (
        "Proposer dans tous les serveurs un style entraîné ici"
    ),
    "A style this server trained": "Un style entraîné sur ce serveur",
    # /settings daily
    "A post the bot makes here every day": "Une publication du bot ici chaque jour",
    "Post a generation in this channel every day": (
        "Publier une création dans ce salon chaque jour"
    ),
    "What to post: a painting, a colour, a few lines or names": (
        "Quoi publier : une peinture, une couleur, quelques lignes ou des noms"
    ),
    "When, on a 24-hour clock (HH:MM)": "Quand, sur 24 heures (HH:MM)",
    "Whose clock, e.g. Europe/Paris (default UTC)": (
        "Quel fuseau horaire, ex. : Europe/Paris (par défaut UTC)"
    ),
    "Stop this channel's daily post": "Arrêter la publication quotidienne de ce salon",
    # /history
    "Your recent generations with this bot": "Vos créations récentes avec ce bot",
    "Your last 10 generations, to make again": "Vos 10 dernières créations, à refaire",
    "Delete everything this bot keeps about you": ("Supprimer tout ce que ce bot garde sur vous"),
}

GERMAN: dict[str, str] = {
    # /color
    "Show the colour a name evokes": "Zeigt die Farbe, die ein Name hervorruft",
    "A colour name, real or invented (e.g. forest)": (
        "Ein Farbname, echt oder erfunden (z. B. forest)"
    ),
    # /write
    "Write new text in a learned style": "Neuen Text in einem erlernten Stil schreiben",
    "Whose style to imitate (default: this server's choice)": (
        "Wessen Stil nachgeahmt werden soll (Standard: die Wahl dieses Servers)"
    ),
    "Opening text to continue (kept in the output)": (
        "Anfangstext zum Fortsetzen (bleibt in der Ausgabe erhalten)"
    ),
    "Characters to generate ({low} to {high})": (
        "Anzahl der zu erzeugenden Zeichen ({low} bis {high})"
    ),
    "0 = always the likeliest character; higher = more adventurous (max {high})": (
        "0 = immer das wahrscheinlichste Zeichen; höher = gewagter (max. {high})"
    ),
    "Same seed and options give the same text": (
        "Gleicher Seed und gleiche Optionen ergeben denselben Text"
    ),
    # /caption
    "Compose captions, or caption an image": (
        "Bildunterschriften verfassen oder ein Bild beschriften"
    ),
    "A picture to caption (PNG, JPEG, WebP or GIF, up to 8 MB)": (
        "Ein Bild zum Beschriften (PNG, JPEG, WebP oder GIF, bis 8 MB)"
    ),
    "How the caption should begin": "Wie die Bildunterschrift beginnen soll",
    "How many captions ({low} to {high})": "Wie viele Bildunterschriften ({low} bis {high})",
    "0 = safest wording; higher = more adventurous (max {high})": (
        "0 = sicherste Formulierung; höher = gewagter (max. {high})"
    ),
    "Same seed and options give the same captions": (
        "Gleicher Seed und gleiche Optionen ergeben dieselben Bildunterschriften"
    ),
    # /paint
    "Paint a new picture in the style of Monet": "Ein neues Bild im Stil von Monet malen",
    "Same seed and temperature give the same painting": (
        "Gleicher Seed und gleiche Temperatur ergeben dasselbe Gemälde"
    ),
    "Lower = calmer colours, higher = wilder ({low} to {high})": (
        "Niedriger = ruhigere Farben, höher = wildere ({low} bis {high})"
    ),
    "Canvas size in pixels (the sizes the painter was trained at)": (
        "Leinwandgröße in Pixeln (die Größen, mit denen der Maler trainiert wurde)"
    ),
    # /name
    "Invent names for a colour": "Namen für eine Farbe erfinden",
    "#7a9e3b, #7a3, rgb(122, 158, 59) or a colour name": (
        "#7a9e3b, #7a3, rgb(122, 158, 59) oder ein Farbname"
    ),
    "0 = safest names; higher = wilder (max {high})": (
        "0 = sicherste Namen; höher = wildere (max. {high})"
    ),
    "Same seed and colour give the same names": (
        "Gleicher Seed und gleiche Farbe ergeben dieselben Namen"
    ),
    # admin and help
    "Loaded models and their key numbers": "Geladene Modelle und ihre wichtigsten Kennzahlen",
    "Re-read changed model files": "Geänderte Modelldateien neu einlesen",
    "How to use each command, with examples and the limits here": (
        "So nutzt du jeden Befehl – mit Beispielen und den hier geltenden Grenzen"
    ),
    # /settings
    "Server and channel settings for this bot": "Server- und Kanaleinstellungen für diesen Bot",
    "Show the settings that apply in this channel": (
        "Die in diesem Kanal geltenden Einstellungen anzeigen"
    ),
    "Change a setting for the whole server or one channel": (
        "Eine Einstellung für den ganzen Server oder einen Kanal ändern"
    ),
    "Forget a setting (back to the server's value or the default)": (
        "Eine Einstellung verwerfen (zurück zum Serverwert oder zum Standard)"
    ),
    "What to change": "Was geändert werden soll",
    "The new value": "Der neue Wert",
    "Only in this channel (default: the whole server)": (
        "Nur in diesem Kanal (Standard: der ganze Server)"
    ),
    # /palette
    "The five main colours of an image, named": "Die fünf Hauptfarben eines Bildes, benannt",
    "A picture (PNG, JPEG, WebP or GIF, up to 8 MB)": (
        "Ein Bild (PNG, JPEG, WebP oder GIF, bis 8 MB)"
    ),
    # context menus
    "Caption this image": "Dieses Bild beschriften",
    "Palette of this image": "Palette dieses Bildes",
    "Continue this text": "Diesen Text fortsetzen",
    "Caption their avatar": "Avatar beschriften",
    "Teach the bot a new writing style": "Bring dem Bot einen neuen Schreibstil bei",
    "Fine-tune a new /write style on a text file": (
        "Einen neuen /write-Stil an einer Textdatei nachtrainieren"
    ),
    "The new style's name (lowercase letters, digits, - and _)": (
        "Name des neuen Stils (Kleinbuchstaben, Ziffern, - und _)"
    ),
    "A UTF-8 text file in the style to learn": (
        "Eine UTF-8-Textdatei im Stil, der gelernt werden soll"
    ),
    "The style to start from (default: the first loaded)": (
        "Der Ausgangsstil (Standard: der erste geladene)"
    ),
    "Keep the text once the style is trained (default: it is deleted)": (
        "Den Text nach dem Training behalten (Standard: er wird gelöscht)"
    ),
    "Offer a style trained here in every server": (
        "Einen hier trainierten Stil auf allen Servern anbieten"
    ),
    "A style this server trained": "Ein Stil, den dieser Server trainiert hat",
    # /settings daily
    "A post the bot makes here every day": "Ein Beitrag, den der Bot hier täglich schreibt",
    "Post a generation in this channel every day": (
        "Jeden Tag eine Erzeugung in diesem Kanal posten"
    ),
    "What to post: a painting, a colour, a few lines or names": (
        "Was gepostet wird: ein Gemälde, eine Farbe, ein paar Zeilen oder Namen"
    ),
    "When, on a 24-hour clock (HH:MM)": "Wann, im 24-Stunden-Format (HH:MM)",
    "Whose clock, e.g. Europe/Paris (default UTC)": (
        "Welche Zeitzone, z. B. Europe/Berlin (Standard: UTC)"
    ),
    "Stop this channel's daily post": "Den täglichen Beitrag dieses Kanals beenden",
    # /history
    "Your recent generations with this bot": "Deine letzten Erzeugungen mit diesem Bot",
    "Your last 10 generations, to make again": "Deine letzten 10 Erzeugungen, neu zu erzeugen",
    "Delete everything this bot keeps about you": (
        "Alles löschen, was dieser Bot über dich speichert"
    ),
}

LANGUAGES: dict[str, dict[str, str]] = {
    discord.Locale.french.value: FRENCH,
    discord.Locale.german.value: GERMAN,
}

NEVER_TRANSLATED = {
    TranslationContextLocation.group_name,
    TranslationContextLocation.parameter_name,
}


def _is_typed_name(context: TranslationContextTypes) -> bool:
    """Names people type stay English; a context-menu name is picked from a menu."""
    if context.location in NEVER_TRANSLATED:
        return True
    return context.location is TranslationContextLocation.command_name and not isinstance(
        context.data, app_commands.ContextMenu
    )


class BotTranslator(app_commands.Translator):
    """Looks English strings up in `FRENCH` and `GERMAN` when the tree is synced."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: TranslationContextTypes
    ) -> str | None:
        """None (Discord then shows the English) for other languages, typed names and
        strings nobody has translated yet."""
        table = LANGUAGES.get(locale.value)
        if table is None or _is_typed_name(context):
            return None
        translated = table.get(_message(string))
        values = string.extras.get("values")
        if translated is None or not values:
            return translated
        language = locale.value.split("-")[0]
        return translated.format(**{k: number(v, language) for k, v in values.items()})


def _message(text: str | locale_str) -> str:
    """The key a text is translated by: a declared option's template, else the text."""
    if isinstance(text, locale_str):
        return text.extras.get("key", text.message)
    return text


def _parameter_descriptions(command: app_commands.Command) -> Iterator[str]:
    for parameter in command.parameters:
        yield _message(parameter.locale_description or parameter.description)


def _shown_strings(
    command: app_commands.Command | app_commands.Group | app_commands.ContextMenu,
) -> Iterator[str]:
    """What `BotTranslator` is asked to translate for one command, minus the names it
    always leaves English (choice names are left out: they are model names here)."""
    if isinstance(command, app_commands.ContextMenu):
        yield command.name
        return
    yield _message(command.description)
    if isinstance(command, app_commands.Group):
        for child in command.commands:
            yield from _shown_strings(child)
    else:
        yield from _parameter_descriptions(command)


def missing_translations(tree: app_commands.CommandTree) -> dict[str, list[str]]:
    """For each language code, the English strings in the tree's global commands that
    have no translation, in command order: a check to run when strings change, since a
    missing one only shows up as English in a French or German client."""
    strings: list[str] = []
    for command in tree.get_commands():
        for text in _shown_strings(command):
            if text != PLACEHOLDER and text not in strings:
                strings.append(text)
    return {
        code: [text for text in strings if text not in table] for code, table in LANGUAGES.items()
    }
