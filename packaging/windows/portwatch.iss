; Inno Setup 6 script: a per-user installer for portwatch (no administrator rights).
;
;   iscc /DAppVersion=0.1.0 /DBundleDir=..\out\dist\portwatch ^
;        /DIconFile=..\out\build\portwatch\icons\portwatch.ico /DOutputDir=..\out portwatch.iss
;
; BundleDir is PyInstaller's dist\portwatch (portwatch.exe for the tray app,
; portwatch-cli.exe for the command line). Relative paths are relative to this file.

#ifndef AppVersion
  #error Pass the version: /DAppVersion=X.Y.Z
#endif
#ifndef BundleDir
  #define BundleDir "..\out\dist\portwatch"
#endif
#ifndef IconFile
  #define IconFile "..\out\build\portwatch\icons\portwatch.ico"
#endif
#ifndef OutputDir
  #define OutputDir "..\out"
#endif
; Same id as portwatch.core.paths.APP_ID, which the app sets as its AppUserModelID:
; the Start-menu shortcut must carry it for notifications to show the app's name.
#define AppUserModelID "io.github.portwatch.Portwatch"
; Same value name as portwatch.core.autostart.windows.VALUE_NAME.
#define RunValueName "portwatch"

[Setup]
; A fixed id (uuid5 of the app id): upgrades replace the installed version.
AppId={{F02A380C-5832-5ADC-B126-65BC7813EFD3}
AppName=portwatch
AppVersion={#AppVersion}
AppVerName=portwatch {#AppVersion}
AppPublisher=portwatch developers
AppPublisherURL=https://github.com/portwatch/portwatch
; Per user: no UAC prompt; {autopf} is then %LOCALAPPDATA%\Programs.
PrivilegesRequired=lowest
DefaultDirName={autopf}\portwatch
DisableProgramGroupPage=yes
DisableDirPage=auto
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename=portwatch-{#AppVersion}-windows-x64-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\portwatch.exe
UninstallDisplayName=portwatch
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; Ask a running portwatch to close before files are replaced or removed.
CloseApplications=yes
RestartApplications=no
; Tell running programs (Explorer, new terminals) that PATH changed.
ChangesEnvironment=yes

[Tasks]
Name: "startatlogin"; Description: "Start portwatch when I log in"; Flags: unchecked
Name: "addtopath"; Description: "Add the portwatch command (portwatch-cli) to my PATH"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\portwatch"; Filename: "{app}\portwatch.exe"; \
    Comment: "Watch which ports are listening and how exposed they are"; \
    AppUserModelID: "{#AppUserModelID}"

[Registry]
; The start-at-login task writes the value `portwatch autostart on` would write.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; \
    ValueType: string; ValueName: "{#RunValueName}"; ValueData: """{app}\portwatch.exe"""; \
    Flags: uninsdeletevalue; Tasks: startatlogin
; The command line for terminals: {app} (with portwatch-cli.exe) on the user's PATH.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; \
    ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))
; Whoever wrote it (the task or the app's own setting), uninstalling removes it.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; \
    ValueType: none; ValueName: "{#RunValueName}"; Flags: uninsdeletevalue dontcreatekey

[Run]
Filename: "{app}\portwatch.exe"; Description: "Start portwatch now"; \
    Flags: nowait postinstall skipifsilent

[Code]
{ True when Dir is not yet one of the entries of the user's PATH. }
function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;

{ Uninstalling takes {app} out of the user's PATH again, leaving the other entries. }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Path, Dir: string;
  At: Integer;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
    exit;
  Dir := ExpandConstant('{app}');
  At := Pos(';' + Uppercase(Dir), Uppercase(Path));
  if At > 0 then
  begin
    Delete(Path, At, Length(Dir) + 1);
    RegWriteExpandStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path);
  end;
end;
