; Inno Setup script: a per-machine installer of the PyInstaller folder dist\meddiag-desktop\.
; Build on Windows after `py -3.11 run.py bundle`:  ISCC packaging\windows\meddiag-desktop.iss
; Silent install (per machine, needs admin):  MedDiagDesktop-0.1.0-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
; Silent uninstall:  "C:\Program Files\MedDiag Desktop\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
; Not built in CI (no Windows machine there): see packaging/README.md.

#define AppVersion "0.1.0"

[Setup]
AppId={{6E1B7A52-3C1F-4E55-9B8A-6D0C2F4A9E11}
AppName=MedDiag Desktop
AppVersion={#AppVersion}
AppPublisher=MedDiag Desktop
DefaultDirName={autopf}\MedDiag Desktop
DefaultGroupName=MedDiag Desktop
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
DisableProgramGroupPage=yes
OutputBaseFilename=MedDiagDesktop-{#AppVersion}-setup
OutputDir=..\..\dist
SourceDir=..\..
UninstallDisplayIcon={app}\meddiag-desktop.exe
Compression=lzma2
SolidCompression=yes

[Files]
Source: "dist\meddiag-desktop\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\MedDiag Desktop"; Filename: "{app}\meddiag-desktop.exe"
